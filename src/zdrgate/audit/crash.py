"""The crash probe: a serving process that dies mid-stream leaves no canary behind.

Usage (``run_audit`` does this before anything else in the audit process)::

    crash = await crash_probe(settings, fakes_url, canary, work_dir)
    crash.result       # a ProbeResult named "worker crash mid-stream"
    crash.problems     # e.g. "a core was dumped"
    crash.log_file     # the child's log output, scanned with the others

It starts a child process that serves through ``zdrgate serve``'s own code path
(:func:`zdrgate.server.run.run`) with the audit's settings (the operator's storage,
the loopback fakes as providers). The child is started with core dumps *allowed*
(its soft ``RLIMIT_CORE`` raised to the hard limit before exec), so that only the
gateway's own start-up can turn them off. The probe opens a canary stream that the
fake upstream holds after its first event, reads the child's core limit from
``/proc/PID/limits``, aborts the child with SIGABRT (a crash that dumps core where
dumps are on), and asks the kernel whether it dumped one (``WCOREDUMP``). Where
``/proc/sys/kernel/core_pattern`` names a file, the directory it would be written
to is checked for a new core as well; a pipe to a helper is reported as such (the
serving process is not dumpable, so the kernel hands the helper nothing).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from zdrgate.audit.client import open_stream, wait_healthy
from zdrgate.audit.probes import Probe, ProbeResult, chat_body
from zdrgate.config import Settings

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
START_SECONDS = 120.0
NAME = "worker crash mid-stream"


@dataclass(slots=True)
class CrashOutcome:
    result: ProbeResult
    log_file: Path
    problems: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)


async def crash_probe(settings: Settings, canary: str, key: str, work: Path) -> CrashOutcome:
    """``settings``: the audit's (fakes as providers); ``work``: a private directory
    for the child's working directory and log."""
    outcome = CrashOutcome(ProbeResult(NAME, 0), work / "serve.log")
    port = _free_port()
    child = _spawn(settings, port, key, work, outcome.log_file)
    base = f"http://127.0.0.1:{port}"
    started = time.time()
    try:
        async with aiohttp.ClientSession() as session:
            if not await wait_healthy(session, base, START_SECONDS):
                outcome.problems.append(f"{NAME}: the serving process did not start "
                                        f"(see {outcome.log_file})")
                return outcome
            probe = Probe(NAME, "/v1/chat/completions",
                          chat_body("audit/hold", canary, stream=True))
            try:
                async with open_stream(session, base, probe, key) as first:
                    outcome.result.status = 200 if first.startswith(b"data: ") else 0
                    outcome.result.body_bytes = len(first)
                    _limits(child.pid, outcome)
                    _abort(child, outcome)
            except (TimeoutError, aiohttp.ClientError) as exc:
                if "core_dumped" not in outcome.facts:  # not the abort cutting the stream
                    outcome.problems.append(f"{NAME}: the stream failed ({type(exc).__name__})")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    _look_for_cores(work, started, outcome)
    if outcome.result.status != 200:
        outcome.problems.append(f"{NAME}: the stream was not under way when the process died")
    return outcome


def _spawn(
    settings: Settings, port: int, key: str, work: Path, log: Path
) -> subprocess.Popen[bytes]:
    def allow_cores() -> None:  # in the child, before exec: undo what the parent set
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    env = {**os.environ, "ZDRGATE_MASTER_KEY": key}
    with log.open("wb") as out:
        child = subprocess.Popen(  # noqa: S603 - this interpreter, this package
            [sys.executable, "-m", "zdrgate.audit.serve_child", str(port)],
            stdin=subprocess.PIPE, stdout=out, stderr=out, cwd=work, env=env,
            preexec_fn=allow_cores,  # noqa: PLW1509 - no threads run here yet
        )
    assert child.stdin is not None
    child.stdin.write(orjson.dumps(settings.model_dump(mode="json")))
    child.stdin.close()
    return child


def _limits(pid: int, outcome: CrashOutcome) -> None:
    try:
        lines = Path(f"/proc/{pid}/limits").read_text().splitlines()
    except OSError:
        outcome.facts["rlimit_core"] = "unknown (no /proc)"
        return
    row = next((line for line in lines if line.startswith("Max core file size")), "")
    soft, hard = row.split()[4:6] if row else ("?", "?")
    outcome.facts["rlimit_core"] = f"{soft} {hard}"
    outcome.result.events.append(f"serving process core limit: soft {soft}, hard {hard}")
    if soft != "0":
        outcome.problems.append(f"{NAME}: the serving process allows core files ({soft})")


def _abort(child: subprocess.Popen[bytes], outcome: CrashOutcome) -> None:
    os.kill(child.pid, signal.SIGABRT)
    _, status = os.waitpid(child.pid, 0)
    child.returncode = -signal.SIGABRT  # reaped here: Popen must not wait again
    dumped = os.WIFSIGNALED(status) and os.WCOREDUMP(status)
    outcome.facts["signal"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    outcome.facts["core_dumped"] = dumped
    outcome.result.events.append(f"aborted (SIGABRT); the kernel dumped a core: {dumped}")
    if dumped:
        outcome.problems.append(f"{NAME}: the kernel dumped a core of the serving process")


def _look_for_cores(work: Path, since: float, outcome: CrashOutcome) -> None:
    try:
        pattern = CORE_PATTERN.read_text().strip()
    except OSError:
        outcome.facts["core_pattern"] = "unknown"
        return
    outcome.facts["core_pattern"] = pattern
    if pattern.startswith("|"):
        outcome.result.events.append(f"core_pattern pipes cores to {pattern[1:].split()[0]}")
        return
    target = Path(pattern) if pattern.startswith("/") else work / pattern
    prefix = target.name.split("%", 1)[0]
    with contextlib.suppress(OSError):
        for path in target.parent.iterdir():
            if path.name.startswith(prefix) and path.stat().st_mtime >= since:
                outcome.problems.append(f"{NAME}: a core file appeared: {path}")
    outcome.result.events.append(f"no new core file in {target.parent}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_child(port: int) -> None:
    """The child: the audit's settings from stdin, served by ``zdrgate serve``'s code."""
    import dataclasses  # noqa: PLC0415

    from zdrgate.catalog.model import Catalog  # noqa: PLC0415
    from zdrgate.server.app import build_state  # noqa: PLC0415
    from zdrgate.server.run import run  # noqa: PLC0415

    settings = Settings.model_validate(orjson.loads(sys.stdin.buffer.read()))
    state = build_state(settings, catalog=Catalog({}, {}))
    state = dataclasses.replace(state, log_policy_changes=False)  # the fakes are no policy
    run(settings, host="127.0.0.1", port=port, workers=1, config_path=None, state=state)
