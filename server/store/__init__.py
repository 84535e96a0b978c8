"""The server's storage, with no MQTT and no HTTP: the write path (:mod:`.writer`), the registry
(:mod:`.registry`) and the read side (:mod:`.queries`).

:class:`EventStore` is all three on one engine, for the app, the CLI, tests and benchmarks;
code that needs one side takes that class.
"""

from __future__ import annotations

from server.store.base import as_utc, utcnow
from server.store.queries import Queries, period_end, period_start
from server.store.registry import BrokerAccount, Registry, RegistryError
from server.store.writer import Activity, EventWriter, StoreResult


class EventStore(EventWriter, Registry, Queries):
    """The writer, the registry and the queries on one engine and time zone."""


__all__ = [
    "Activity",
    "BrokerAccount",
    "EventStore",
    "EventWriter",
    "Queries",
    "Registry",
    "RegistryError",
    "StoreResult",
    "as_utc",
    "period_end",
    "period_start",
    "utcnow",
]
