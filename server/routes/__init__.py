"""The HTTP routes, one module per resource; :data:`api_router` holds everything under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from server.routes import coverage, facilities, health, meta, quarantine, readers, usage

api_router = APIRouter(prefix="/api/v1")
for module in (health, facilities, readers, coverage, usage, quarantine, meta):
    api_router.include_router(module.router)

__all__ = ["api_router"]
