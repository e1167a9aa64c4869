"""zdrgate: an OpenAI-compatible AI gateway that only routes to zero-data-retention
endpoints, and stores no prompt, completion or image anywhere.

The public Python surface is small: the app factory and the settings loader.
"""

from zdrgate.config import Settings, load_settings
from zdrgate.server.app import create_app

__all__ = ["Settings", "create_app", "load_settings"]
__version__ = "0.1.0"
