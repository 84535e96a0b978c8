"""Benchmark: the server's CPU per check-in, in-process, with and without the desks' publish properties.

The ingest's own path — PUBLISH decoding (paho, with the lean decoder installed), the
message callback, validation with the clock offset (docs/clock.md), the batch's SQLite
transaction — over pre-built packets, without the broker and the publishers (on a shared
2-core machine their CPU blurs the end-to-end benchmark, benchmarks/ingest.py). Alternating
rounds, median CPU time per event.

    python -m benchmarks.ingest_cpu
"""
from __future__ import annotations

import shutil
import statistics
import struct
import tempfile
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from contract.mqtt import send_time_properties
from contract.settings import MqttSettings
from contract.topics import checkin_topic
from server import paho_lean
from server.db import init_db, make_engine
from server.ingest import Ingestor
from server.store import EventStore

paho_lean.install()  # as the server's ingest does
V5 = MQTTProtocolVersion.MQTTv5
N, BATCH = 20000, 2000


def packets(stamped: bool) -> list[bytes]:
    out = []
    topic = checkin_topic("B001", "desk-1").encode()
    for i in range(N):
        ev = CheckInEvent(event_id=new_event_id(), facility_code="B001", reader_id="desk-1",
                          occurred_at=datetime.now(UTC), method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                          citizen_pseudonym=f"{i:064x}")
        props = send_time_properties(datetime.now(UTC)).pack() if stamped else b"\x00"
        out.append(struct.pack("!H", len(topic)) + topic + struct.pack("!H", i % 65535 + 1) + props
                   + ev.to_json_bytes())
    return out


def run(stamped: bool) -> float:
    d = tempfile.mkdtemp()
    store = EventStore(make_engine(f"sqlite:///{d}/s.sqlite"))
    init_db(store.engine)
    store.import_facilities("code,name,type,province,district,commune\nB001,C,health_station,T,H,X\n")
    store.add_reader("B001", "desk-1")
    ing = Ingestor(store, MqttSettings(url="mqtt://127.0.0.1:1"), receipts=False)
    ing._ack = lambda mids: None  # type: ignore[method-assign]  # no broker to acknowledge to
    pk = packets(stamped)
    t0 = time.process_time()
    for body in pk:
        r = _packet.decode_publish(0x32, body, V5)
        m = mqtt.MQTTMessage(mid=r.mid, topic=r.topic)
        m.qos, m.retain, m.properties, m.payload = r.qos, r.retain, r.properties, r.payload
        ing._on_message(None, None, m)  # type: ignore[arg-type]
    q = ing._queue
    while q:
        batch = [q.popleft() for _ in range(min(BATCH, len(q)))]
        ing._handle_batch(batch)
    cpu = (time.process_time() - t0) / N * 1e6
    assert store.event_count() == N
    store.engine.dispose()
    shutil.rmtree(d, ignore_errors=True)
    return cpu


def main() -> int:
    res: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(5):
        for stamped in (False, True):
            res[stamped].append(run(stamped))
    print(f"server CPU per check-in, {N} events, batches of {BATCH}, SQLite, 5 alternating rounds:")
    for stamped in (False, True):
        label = "sent_at + expiry (the desks)" if stamped else "no properties"
        print(f"  {label:30s} median {statistics.median(res[stamped]):6.1f} us/event   rounds "
              + ", ".join(f"{x:.1f}" for x in res[stamped]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
