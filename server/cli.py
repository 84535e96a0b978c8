"""``cccd-server``: run the central server and manage its registry.

    cccd-server serve --config server.toml
    cccd-server serve --role api --config server.toml      (and --role ingest: see docs/scale.md)
    cccd-server migrate --config server.toml
    cccd-server facility import facilities.csv --config server.toml
    cccd-server facility list --config server.toml
    cccd-server reader add --facility 34001 --reader desk-1 --config server.toml
    cccd-server ca init --config server.toml
    cccd-server reader add --facility 34001 --reader desk-1 --cert --cert-out ./34001-desk-1 --config server.toml
    cccd-server reader revoke --facility 34001 --reader desk-1 [--serial HEX] --config server.toml
    cccd-server reader import readers.csv --out credentials.csv --config server.toml
    cccd-server reader list --config server.toml
    cccd-server broker-files --config server.toml
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from contract.settings import ConfigError
from contract.topics import is_facility_code, is_reader_id, is_username
from server.settings import ServeRole, ServerSettings

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only for the commands that need it
    from server.store import EventStore



def _store(settings: ServerSettings) -> EventStore:
    from server.db import init_db, make_engine
    from server.store import EventStore

    engine = make_engine(settings.database_url)
    init_db(engine)
    return EventStore(engine, settings.timezone)


def _write_broker_files(settings: ServerSettings, store: EventStore) -> list[Path]:
    from server.brokerfiles import write_broker_files

    server = None
    if settings.mqtt.username and settings.mqtt.password:
        server = (settings.mqtt.username, settings.mqtt.password.get_secret_value())
    return write_broker_files(
        store.broker_accounts(), settings.broker_files.password_file, settings.broker_files.acl_file, server,
        members=settings.mqtt.members,
    )


def _checked(rule: Callable[[str], bool], what: str) -> Callable[[str], str]:
    """An argparse type for one of the contract's identifier rules."""

    def check(value: str) -> str:
        if not rule(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a valid {what}")
        return value

    return check


def _add_reader_with_cert(args: argparse.Namespace, settings: ServerSettings, store: EventStore) -> int:
    """``reader add --cert``: register the reader without a password and issue it a client
    certificate (CN ``<facility>/<reader>``) from the device CA. The CA and the output files
    are checked first: a refusal changes nothing."""
    from contract.topics import reader_username
    from server.ca import CaError, issue_reader_cert, load_ca, record_certs, write_reader_files
    from server.store import RegistryError

    username = reader_username(args.facility, args.reader)
    if args.username not in (None, username):
        print(f"cccd-server: a certificate's name is the reader's own {username!r}", file=sys.stderr)
        return 2
    out_dir = args.cert_out or Path(f"{args.facility}-{args.reader}")
    try:
        device_ca = load_ca(settings.device_ca.directory)
        taken = [p for p in (out_dir / "client.crt", out_dir / "client.key") if p.exists()]
        if taken:
            raise CaError(f"{taken[0]} exists already: it is never overwritten (move it away, or use --cert-out)")
        store.add_reader(args.facility, args.reader, username, None)
        issued = issue_reader_cert(device_ca, args.facility, args.reader, days=settings.device_ca.cert_days)
        cert_path, key_path = write_reader_files(issued, out_dir)
        record_certs(store.engine, [(args.facility, args.reader, issued)])
    except (CaError, RegistryError, OSError) as exc:
        print(f"cccd-server: {exc}", file=sys.stderr)
        return 1
    written = _write_broker_files(settings, store)  # a password it held is gone from the broker's file
    print(json.dumps({"facility": args.facility, "reader": args.reader, "mqtt_username": username,
                      "cert_serial": issued.serial_hex, "not_after": issued.not_after.isoformat(),
                      "cert_file": str(cert_path), "key_file": str(key_path)}))
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print(f"Install {cert_path} and {key_path} (0600) at the desk as [mqtt] cert_file / key_file, with the "
          "broker's certificate listener in [mqtt] url; the key is shown nowhere else.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cccd-server", description="CCCD check-in central server")
    parser.add_argument("--config", help="TOML settings file (env CCCD_SERVER_* overrides)")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="TOML settings file (env CCCD_SERVER_* overrides)")
    serve = sub.add_parser("serve", parents=[common], help="run the API, the dashboard and the MQTT ingest")
    serve.add_argument("--role", choices=[r.value for r in ServeRole],
                       help="all (default: [process] role), api (API and dashboard), ingest (MQTT ingest)")
    sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    sub.add_parser("broker-files", parents=[common], help="rewrite the mosquitto password and ACL files")
    fac = sub.add_parser("facility", help="health facilities").add_subparsers(dest="action", required=True)
    imp = fac.add_parser("import", parents=[common], help="insert or update facilities from a CSV file")
    imp.add_argument("csv", type=Path, help="columns: code,name,type,province,district,commune")
    fac.add_parser("list", parents=[common], help="list the facilities as JSON lines")
    rd = sub.add_parser("reader", help="readers").add_subparsers(dest="action", required=True)
    add = rd.add_parser("add", parents=[common], help="register a reader and issue its MQTT credentials")
    add.add_argument("--facility", required=True,
                     type=_checked(is_facility_code, "facility code (ASCII letters, digits, _ -; up to 32)"))
    add.add_argument("--reader", required=True,
                     type=_checked(is_reader_id, "reader id (ASCII letters, digits, _ -; up to 64)"))
    add.add_argument("--username", type=_checked(is_username, "username (ASCII letters, digits, . _ -; up to 128, "
                                                              "or <facility>/<reader>)"),
                     help="MQTT username (default <facility>/<reader>)")
    add.add_argument("--cert", action="store_true",
                     help="issue a TLS client certificate from the device CA instead of a password")
    add.add_argument("--cert-out", type=Path, help="where to write client.crt and client.key (with --cert; "
                                                   "default ./<facility>-<reader>)")
    rev = rd.add_parser("revoke", parents=[common], help="revoke a reader's certificates and rewrite the CRL")
    rev.add_argument("--facility", required=True, type=_checked(is_facility_code, "facility code"))
    rev.add_argument("--reader", required=True, type=_checked(is_reader_id, "reader id"))
    rev.add_argument("--serial", help="only this certificate (hex serial); default every one of the reader")
    ca = sub.add_parser("ca", help="the device CA of readers' TLS client certificates").add_subparsers(
        dest="action", required=True)
    ca.add_parser("init", parents=[common], help="make the device CA, its broker copy and an empty CRL")
    ca.add_parser("crl", parents=[common], help="rewrite the broker's copy of the CA and the CRL")
    bulk = rd.add_parser("import", parents=[common], help="register readers in bulk from a CSV file")
    bulk.add_argument("csv", type=Path, help="columns: facility,reader (optional: username)")
    bulk.add_argument("--out", type=Path, required=True,
                      help="where to write the issued credentials (CSV, mode 0600; shown nowhere else)")
    bulk.add_argument("--cert-out", type=Path,
                      help="issue client certificates instead of passwords, into DIR/<facility>-<reader>/")
    rd.add_parser("list", parents=[common], help="list the readers as JSON lines")
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

        role = ServeRole(args.role) if args.role else settings.process.role
        host, port = ((settings.process.ingest_host, settings.process.ingest_port) if role is ServeRole.ingest
                      else (settings.api.host, settings.api.port))
        uvicorn.run(create_app(settings, role=role), host=host, port=port, log_level="info", access_log=False)
        return 0

    from server.store import RegistryError

    if args.command == "ca" and args.action == "init":
        from server.ca import CaError, init_ca, publish_ca_files

        try:
            device_ca = init_ca(settings.device_ca.directory)
        except (CaError, OSError) as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        print(f"made the device CA in {settings.device_ca.directory} (keep ca.key secret and backed up)")
        for path in publish_ca_files(device_ca, None, ca_copy=settings.device_ca.broker_ca_file,
                                     crl_file=settings.device_ca.crl_file):
            print(f"wrote {path}")
        if settings.device_ca.broker_ca_file is None or settings.device_ca.crl_file is None:
            print("set [device_ca] broker_ca_file and crl_file (the broker's cafile and crlfile of its certificate "
                  "listener), then run: cccd-server ca crl", file=sys.stderr)
        return 0
    if args.command == "reader" and args.action == "revoke" and settings.device_ca.crl_file is None:
        print("cccd-server: set [device_ca] crl_file (the broker's crlfile) first: a revocation the broker cannot "
              "read protects nothing", file=sys.stderr)
        return 2
    if args.command == "reader" and args.action == "add" and args.cert_out is not None and not args.cert:
        print("cccd-server: --cert-out goes with --cert", file=sys.stderr)
        return 2
    store = _store(settings)
    if args.command == "migrate":
        print("schema is up to date")
    elif args.command == "broker-files":
        for path in _write_broker_files(settings, store):
            print(f"wrote {path}")
        print("reload mosquitto (SIGHUP) to apply")
    elif args.command == "facility" and args.action == "import":
        try:
            count = store.import_facilities(args.csv.read_text(encoding="utf-8"))
        except (RegistryError, OSError, UnicodeDecodeError) as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        print(f"imported {count} facilities")
    elif args.command == "facility":
        for facility in store.facilities():
            print(facility.model_dump_json())
    elif args.command == "ca":
        from server.ca import CaError, load_ca, publish_ca_files

        try:
            written = publish_ca_files(load_ca(settings.device_ca.directory), store.engine,
                                       ca_copy=settings.device_ca.broker_ca_file, crl_file=settings.device_ca.crl_file)
        except (CaError, OSError) as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
    elif args.command == "reader" and args.action == "add" and args.cert:
        return _add_reader_with_cert(args, settings, store)
    elif args.command == "reader" and args.action == "revoke":
        from server.ca import CaError, load_ca, publish_ca_files, revoke_certs

        try:
            device_ca = load_ca(settings.device_ca.directory)
            serials = revoke_certs(store.engine, args.facility, args.reader, args.serial)
            written = publish_ca_files(device_ca, store.engine, ca_copy=None, crl_file=settings.device_ca.crl_file)
        except (CaError, OSError) as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"facility": args.facility, "reader": args.reader, "revoked": serials}))
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print("reload mosquitto (SIGHUP) to apply the CRL", file=sys.stderr)
    elif args.command == "reader" and args.action == "add":
        from contract.topics import reader_username
        from server.brokerfiles import mosquitto_hash, new_password

        username = args.username or reader_username(args.facility, args.reader)
        password = new_password()
        try:
            store.add_reader(args.facility, args.reader, username, mosquitto_hash(password))
        except RegistryError as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        written = _write_broker_files(settings, store)
        print(json.dumps({"facility": args.facility, "reader": args.reader, "mqtt_username": username,
                          "mqtt_password": password}))
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print("The password is shown once. Put it in the reader's [mqtt] settings; reload mosquitto (SIGHUP).",
              file=sys.stderr)
    elif args.command == "reader" and args.action == "import":
        from server.ca import CaError, import_readers_with_certs, load_ca
        from server.reader_import import ReaderCsvError, import_readers

        try:
            if args.cert_out is not None:
                count = import_readers_with_certs(store, load_ca(settings.device_ca.directory), args.csv, args.out,
                                                  args.cert_out, days=settings.device_ca.cert_days)
            else:
                count = import_readers(store, args.csv, args.out)
        except (CaError, ReaderCsvError, RegistryError, OSError, UnicodeDecodeError) as exc:
            print(f"cccd-server: {exc}", file=sys.stderr)
            return 1
        for path in _write_broker_files(settings, store):
            print(f"wrote {path}", file=sys.stderr)
        print(f"imported {count} readers; their credentials are in {args.out} (shown once). Reload mosquitto "
              "(SIGHUP).")
    elif args.command == "reader":
        offline_after = timedelta(seconds=settings.registry.offline_after_seconds)
        for reader in store.readers(offline_after):
            print(reader.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
