"""Where ``create_app`` was first defined: kept so that ``from server.api import create_app`` still works."""

from server.app import create_app

__all__ = ["create_app"]
