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
    """``cccd-edge run --config FILE``: the desk agent, until SIGTERM or Ctrl-C (exit 0), or until
    its supervisor gives up on a part that keeps failing (exit 1, for systemd to restart it)."""
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
    from edge.trust.store import TrustStoreError

    try:
        settings = EdgeSettings.load(args.config)
        # Every secret file is read once here, so a missing or group-readable key or token is a
        # clean error before the agent connects and announces itself "online".
        settings.pseudonym_key()
        settings.his_token()
        settings.screen_token()
        settings.mqtt.check_client_key()
        agent = DeskAgent(settings)
    except (ConfigError, TrustStoreError) as exc:  # a bad trust path would lower every card's level
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
        code = agent.wait(stop)  # 1 when a part of the agent could not be kept running
    finally:
        agent.stop()
    if code:
        print("cccd-edge: a part of the agent kept failing; exiting for a restart", file=sys.stderr)
    return code


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


def init_main(argv: list[str]) -> int:
    """``cccd-edge init --facility CODE --reader ID``: a new desk's config, key and HIS token."""
    from app.init_config import init_main as run

    return run(argv)


def doctor_main(argv: list[str]) -> int:
    """``cccd-edge doctor [--config FILE]``: check an installed desk, one line per check."""
    from app.doctor import doctor_main as run

    return run(argv)


COMMANDS = {
    "parse-qr": parse_qr_main,
    "decode-qr": decode_qr_main,
    "verify-sod": verify_sod_main,
    "read-chip": read_chip_main,
    "run": run_main,
    "init": init_main,
    "doctor": doctor_main,
}


def _usage() -> str:
    """Every command with what it does (its docstring's first line)."""
    lines = ["usage: cccd-edge COMMAND [ARGS...]   (cccd-edge COMMAND --help: its options)", "", "commands:"]
    for name, command in COMMANDS.items():
        summary = (command.__doc__ or "").strip().splitlines()[0] if command.__doc__ else ""
        lines.append(f"  {name:<10} {summary}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        asked = bool(argv) and argv[0] in ("-h", "--help")
        print(_usage(), file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
