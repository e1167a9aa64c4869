"""The HTTP surface: thin routes over the service, the CLI's ``serve``."""

from zdrgate.server.app import create_app

__all__ = ["create_app"]
