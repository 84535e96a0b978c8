"""``cccd-edge``: the desk agent and its tools."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from edge.domain.messages import DomainError


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def parse_qr_main(argv: list[str]) -> int:
    """``cccd-edge parse-qr TEXT`` (or ``-`` for stdin): the record as JSON, or the error (exit 2)."""
    parser = argparse.ArgumentParser(prog="cccd-edge parse-qr")
    parser.add_argument("text", help="the QR payload, or - to read it from standard input")
    parser.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of error messages")
    args = parser.parse_args(argv)
    from edge.domain.qr import parse_qr

    payload: str | bytes = sys.stdin.buffer.read() if args.text == "-" else args.text
    try:
        record = parse_qr(payload)
    except DomainError as err:
        _print_json({"error": err.to_dict(args.lang)})
        return 2
    _print_json(record.model_dump(mode="json"))
    return 0


def run_main(argv: list[str]) -> int:
    """``cccd-edge run --config FILE``: the desk agent, until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="cccd-edge run")
    parser.add_argument("--config", help="TOML settings file (env CCCD_EDGE_* overrides)")
    parser.add_argument("--stdin", action="store_true",
                        help="also read QR payloads from standard input, one per line")
    args = parser.parse_args(argv)
    import signal
    import threading

    from app.agent import DeskAgent
    from edge.config import EdgeSettings
    from edge.settings_base import ConfigError

    try:
        settings = EdgeSettings.load(args.config)
        agent = DeskAgent(settings)
    except ConfigError as exc:
        print(f"cccd-edge: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    agent.start()
    if args.stdin:
        def pump() -> None:
            for line in sys.stdin.buffer:
                agent.enqueue_qr(line.rstrip(b"\r\n"))

        threading.Thread(target=pump, name="stdin", daemon=True).start()
    try:
        stop.wait()
    finally:
        agent.stop()
    return 0


def verify_sod_main(argv: list[str]) -> int:
    """``cccd-edge verify-sod --trust PATH [--at DATE] SOD_FILE [DG_FILE ...]``."""
    from edge.trust.cli import verify_sod_main as run

    return run(argv)


def read_chip_main(argv: list[str]) -> int:
    """``cccd-edge read-chip [--reader NAME] (--qr TEXT | --can N | --mrz LINES) [--trust PATH]``."""
    from app.chip_cli import read_chip_main as run

    return run(argv)


def decode_qr_main(argv: list[str]) -> int:
    """``cccd-edge decode-qr IMAGE...``: one JSON line per image."""
    from reader_drivers.qr.cli import decode_qr_main as run

    return run(argv)


COMMANDS = {
    "parse-qr": parse_qr_main,
    "decode-qr": decode_qr_main,
    "verify-sod": verify_sod_main,
    "read-chip": read_chip_main,
    "run": run_main,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: cccd-edge {" + ",".join(COMMANDS) + "} ...", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
