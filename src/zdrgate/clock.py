"""Today's date, cheaply: ``date.today()`` consults the local time zone on every call
(about 4 us here), and the policy asks for the date on every request."""

from __future__ import annotations

import datetime as dt
import time


class DayClock:
    """Callable returning today's date, recomputed at most once a second."""

    def __init__(self) -> None:
        self._today = dt.date.today()
        self._next_check = time.monotonic() + 1.0

    def __call__(self) -> dt.date:
        now = time.monotonic()
        if now >= self._next_check:
            self._today = dt.date.today()
            self._next_check = now + 1.0
        return self._today
