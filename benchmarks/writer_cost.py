"""Benchmark: the server's CPU per message in its writer, heartbeat against check-in, same batches.

The real ``Ingestor._handle_batch`` (topic check, registry, validation, the batch's
transaction with its reader-activity UPDATE, acknowledgements, receipts) over batches of
messages from distinct readers, as they arrive at the national rate (one message per reader
per batch), into PostgreSQL (fsync on) or SQLite; the process's CPU time per message. No
broker: the paho network thread's cost, the same for both kinds, is left out, and so is the
machine's load (CPU time, not wall time), which makes a before/after comparison hold on a
shared machine where ``benchmarks.national heartbeat`` (the real process, CPU above idle)
scatters.

    python -m benchmarks.writer_cost --database postgresql --batch 50 --batches 300
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from contract.settings import MqttSettings
from contract.topics import checkin_topic, heartbeat_topic
from edge.heartbeat import HealthSnapshot
from server.db import init_db, make_engine
from server.ingest import Ingestor, _Incoming
from server.store import EventStore
from server.store.registry import BrokerAccount
from simulators.services import Postgres


def _store(database_url: str, readers: int) -> EventStore:
    store = EventStore(make_engine(database_url))
    init_db(store.engine)
    facilities = (readers + 2) // 3
    store.import_facilities("code,name,type,province,district,commune\n" + "".join(
        f"F{i:05d},Trạm {i},health_station,Tỉnh {i % 63},Huyện {i % 10},Xã\n" for i in range(facilities)))
    store.add_readers([BrokerAccount(f"F{i // 3:05d}/desk-{i % 3}", None, f"F{i // 3:05d}", f"desk-{i % 3}")
                       for i in range(readers)])
    return store


def _payloads(kind: str, readers: int, rng: random.Random) -> list[tuple[str, bytes]]:
    out = []
    for i in range(readers):
        facility, reader = f"F{i // 3:05d}", f"desk-{i % 3}"
        if kind == "heartbeat":
            health = HealthSnapshot(facility, reader, readers=["qr", "chip"], outbox_depth=rng.randrange(5),
                                    clock={"synced": True, "offset_s": 0.02, "source": "ntp"},
                                    link={"connected": True, "published": 40, "acknowledged": 40, "confirmed": 40},
                                    components={"qr": "running", "chip": "running", "publisher": "running"})
            out.append((heartbeat_topic(facility, reader), health.to_json_bytes()))
        else:
            event = CheckInEvent(event_id=new_event_id(), facility_code=facility, reader_id=reader,
                                 occurred_at=datetime.now(UTC), method=rng.choice(list(Method)),
                                 trust_level=rng.choice(list(TrustLevel)),
                                 citizen_pseudonym=f"{rng.getrandbits(256):064x}")
            out.append((checkin_topic(facility, reader), event.to_json_bytes()))
    return out


def cost(database_url: str, kind: str, readers: int, batch: int, batches: int) -> float:
    """CPU microseconds per message of ``batches`` batches of ``batch`` messages of one kind
    (after 20 batches of warm-up: the registry cache, statement caches, connections)."""
    store = _store(database_url, readers)
    ingest = Ingestor(store, MqttSettings(client_id="bench-writer"))
    rng = random.Random(7)
    # Built before the clock, as the desks built them; check-ins new every batch (a repeat is a duplicate).
    beats = _payloads("heartbeat", readers, rng) if kind == "heartbeat" else []
    plan = [_payloads(kind, batch, rng) if kind == "checkin" else beats[(b * batch) % readers:][:batch]
            for b in range(20 + batches)]
    mid = 0
    t0 = 0.0
    for n, messages in enumerate(plan):
        if n == 20:
            t0 = time.process_time()
        items = []
        for topic, payload in messages:
            mid = mid % 65535 + 1
            items.append(_Incoming(mid, 1, topic, payload, ingest._generation, time.time()))
        ingest._handle_batch(items)
    spent = time.process_time() - t0
    store.engine.dispose()
    return spent / (batch * batches) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--readers", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50, help="messages per batch (1000/s with the 50 ms linger)")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"heartbeat": [], "checkin": []}
    for _ in range(args.rounds):
        for kind, values in results.items():
            if args.database == "postgresql":
                with Postgres(fsync=True) as pg:
                    values.append(cost(pg.url, kind, args.readers, args.batch, args.batches))
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite:///{Path(tmp) / 'cccd.sqlite'}"
                    values.append(cost(url, kind, args.readers, args.batch, args.batches))
            print(f"  {kind:9} {values[-1]:6.0f} us CPU per message", flush=True)
    print(f"writer CPU per message ({args.database}, batches of {args.batch} from distinct readers, "
          f"{args.batches} batches, median of {args.rounds}): heartbeat "
          f"{statistics.median(results['heartbeat']):.0f} us, check-in {statistics.median(results['checkin']):.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
