"""``cccd-sim``: simulated readers and cards for CI, demos and benchmarks."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "chip":  # the virtual CCCD has its own argument parser
        from simulators.vcard.cli import chip_main

        return chip_main(argv[1:])
    if argv and argv[0] == "national":  # the national fleet has its own argument parser
        from simulators.national_fleet import main as national_main

        return national_main(argv[1:])
    parser = argparse.ArgumentParser(prog="cccd-sim", description="CCCD simulators")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("chip", help="serve a virtual CCCD chip through vpcd (see: cccd-sim chip --help)")
    sub.add_parser("national", help="tens of thousands of light MQTT v5 readers (see: cccd-sim national --help)")

    chk = sub.add_parser("checkins", help="run simulated readers that send check-ins to a broker")
    chk.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    chk.add_argument("--facilities", type=int, default=3)
    chk.add_argument("--count", type=int, default=100)
    chk.add_argument("--seed", type=int, default=1)
    chk.add_argument("--duplicates", type=int, default=0, help="re-publish this many delivered events verbatim")
    chk.add_argument("--state-dir", type=Path, default=None, help="where the readers keep their outboxes")
    chk.add_argument("--timeout", type=float, default=120.0)

    demo = sub.add_parser("demo", help="broker + server + simulated readers, until Ctrl-C")
    demo.add_argument("--state-dir", type=Path, default=Path("var/demo"))
    demo.add_argument("--readers", type=int, default=3)
    demo.add_argument("--interval", type=float, default=2.0, help="seconds between check-ins per reader")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "checkins":
        from edge.settings_base import MqttSettings
        from simulators.fleet import run_checkins

        try:
            MqttSettings(url=args.broker)
        except ValueError as exc:
            print(json.dumps({"error": {"code": "usage", "message": str(exc)}}))
            return 2
        if args.facilities < 1 or args.count < 0:
            print(json.dumps({"error": {"code": "usage", "message": "--facilities >= 1 and --count >= 0"}}))
            return 2
        report = run_checkins(
            args.broker, args.facilities, args.count, args.seed,
            duplicates=args.duplicates, state_dir=args.state_dir, timeout=args.timeout,
        )
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return 0
    if args.command == "demo":
        from simulators.demo import run_demo

        return run_demo(args.state_dir, readers=args.readers, interval=args.interval, seed=args.seed,
                        duration=args.duration)
    return 2


if __name__ == "__main__":
    sys.exit(main())
