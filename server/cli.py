"""``cccd-server``: run the central server."""

from __future__ import annotations

import argparse
import logging
import sys

from edge.settings_base import ConfigError
from server.settings import ServerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cccd-server", description="CCCD check-in central server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and the MQTT ingest")
    serve.add_argument("--config", help="TOML settings file (env CCCD_SERVER_* overrides)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ServerSettings.load(args.config)
    except ConfigError as exc:
        print(f"cccd-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        import uvicorn

        from server.api import create_app

        uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
