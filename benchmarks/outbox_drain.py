"""Draining a desk's outbox to the real server: events/s end to end and MQTT messages per event.

A backlog of N events is written to a desk's outbox while nothing listens; then a real
mosquitto and the real server (``cccd-server serve``, SQLite) are up and one desk
publisher drains it. Timed from the publisher's start to the server's API counting all N.
Two rules for when an event may leave the outbox:

- ``broker``: at the broker's PUBACK (the rule before receipts; a broker crash can lose events)
- ``receipt``: at the server's receipt (issue 16), with the re-send window

    .venv/bin/python benchmarks/outbox_drain.py [--events 20000] [--confirm receipt|broker|both]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.checkin import CheckInService  # noqa: E402
from edge.domain.qr import today_in_vietnam  # noqa: E402
from edge.outbox import Outbox  # noqa: E402
from edge.publisher import OutboxPublisher, ReceiptLink  # noqa: E402
from edge.settings_base import MqttSettings  # noqa: E402
from simulators.population import Population  # noqa: E402
from simulators.services import Mosquitto  # noqa: E402
from tests.processes import ServerProcess, wait_until  # noqa: E402

FACILITY, READER = "34001", "desk-1"


def receipt_link() -> ReceiptLink:
    from app.agent import receipt_link as link

    return link(FACILITY, READER)


def run(events: int, confirm: str, work: Path) -> dict[str, object]:
    outbox = Outbox(work / f"outbox-{confirm}.sqlite")
    service = CheckInService(FACILITY, READER, os.urandom(32), outbox)
    population = Population(3)
    for i in range(events):
        service.submit_qr(population.citizen(i % 5000).qr_payload())
    with Mosquitto() as broker:
        (work / confirm).mkdir()
        server = ServerProcess(work / confirm, broker.url).start()
        publisher = OutboxPublisher(outbox, MqttSettings(url=broker.url), f"bench-{confirm}",
                                    receipts=receipt_link() if confirm == "receipt" else None)
        today = today_in_vietnam().isoformat()

        def counted() -> int:
            try:
                return int(server.get("/api/v1/usage", facility=FACILITY, **{"from": today, "to": today})
                           ["total_checkins"])
            except httpx.HTTPError:
                return -1

        started = time.monotonic()
        publisher.start()
        try:
            wait_until(lambda: outbox.depth() == 0, 600, "the outbox to drain")
            drained = time.monotonic() - started
            wait_until(lambda: counted() >= events, 600, "the server to count everything")
            total = time.monotonic() - started
        finally:
            publisher.stop()
            server.stop()
            outbox.close()
    state = publisher.state
    return {
        "confirm": confirm, "events": events, "seconds_to_drain": round(drained, 2),
        "seconds_to_count": round(total, 2), "events_per_s": round(events / total, 1),
        "publishes_per_event": round(state.published / events, 3),
        "receipts_per_event": round(state.receipts / events, 4),
        "resent": state.resent,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--confirm", choices=("receipt", "broker", "both"), default="both")
    args = parser.parse_args()
    modes = ("broker", "receipt") if args.confirm == "both" else (args.confirm,)
    with tempfile.TemporaryDirectory(prefix="cccd-bench-drain-") as tmp:
        for mode in modes:
            print(json.dumps(run(args.events, mode, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
