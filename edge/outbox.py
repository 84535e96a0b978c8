"""The durable outbox: events wait here until they are confirmed (see edge.publisher).

SQLite in WAL mode with synchronous=FULL, so an event that ``add`` returned for survives
a power cut. Events leave only through :meth:`Outbox.remove_ids` (or ``remove``), called
when the server's receipt names them; after a crash anything not removed is published
again, and the server de-duplicates by event id. Order is the order of insertion.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    event_id: str
    topic: str
    payload: bytes


class Outbox:
    """A FIFO of (topic, payload) that survives restarts. Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def add(self, event_id: str, topic: str, payload: bytes) -> bool:
        """Store an event durably; False when an event with that id is already waiting."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox(event_id, topic, payload, created_at) VALUES (?,?,?,?)",
                (event_id, topic, payload, time.time()),
            )
            return cur.rowcount == 1

    def pending(self, limit: int, after_seq: int = 0) -> list[OutboxItem]:
        """The oldest waiting events with ``seq > after_seq``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxItem(seq, event_id, topic, bytes(payload)) for seq, event_id, topic, payload in rows]

    def remove(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def remove_ids(self, event_ids: Sequence[str]) -> int:
        """Remove the events with these ids (one transaction); how many were here."""
        if not event_ids:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = sum(
                    self._db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,)).rowcount
                    for event_id in event_ids
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return removed

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def oldest_age(self, now: float | None = None) -> float | None:
        """Seconds the oldest waiting event has waited, or None when empty."""
        with self._lock:
            row = self._db.execute("SELECT MIN(created_at) FROM outbox").fetchone()
        if row[0] is None:
            return None
        return (time.time() if now is None else now) - float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
