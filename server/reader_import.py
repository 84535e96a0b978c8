"""Bulk reader import: thousands of readers registered, and their credentials issued, in seconds.

``cccd-server reader import readers.csv --out credentials.csv`` reads ``facility,reader``
(and optionally ``username``; by default ``<facility>/<reader>``), checks every row first
(the line is named on the first bad one, nothing is registered then), issues a random
password per reader, registers them all in one transaction, and writes
``facility,reader,mqtt_username,mqtt_password`` to ``--out`` (mode 0600: the passwords are
shown nowhere else, the registry keeps only their hashes). The broker's files are then
rewritten once, not once per reader.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from contract.topics import is_facility_code, is_reader_id, may_hold_username, reader_username
from server.brokerfiles import mosquitto_hash, new_password
from server.store.registry import BrokerAccount, Registry

COLUMNS = ("facility", "reader")


class ReaderCsvError(ValueError):
    """A row of the readers' CSV that cannot be imported; the message names its line."""


def parse_readers_csv(text: str) -> list[tuple[str, str, str]]:
    """(facility, reader, username) per row; the first bad row raises with its line."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    missing = [c for c in COLUMNS if c not in (rows.fieldnames or [])]
    if missing:
        raise ReaderCsvError(f"line 1: the CSV lacks the column(s): {', '.join(missing)}")
    out: list[tuple[str, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for row in rows:
            line = rows.line_num
            facility, reader = (row.get("facility") or "").strip(), (row.get("reader") or "").strip()
            username = (row.get("username") or "").strip() or reader_username(facility, reader)
            if not is_facility_code(facility):
                raise ReaderCsvError(f"line {line}, column 'facility': bad facility code {facility!r}")
            if not is_reader_id(reader):
                raise ReaderCsvError(f"line {line}, column 'reader': bad reader id {reader!r}")
            if not may_hold_username(username, facility, reader):
                raise ReaderCsvError(f"line {line}, column 'username': {username!r} cannot be this reader's")
            if (facility, reader) in seen:
                raise ReaderCsvError(f"line {line}: reader {facility}/{reader} is already on line "
                                     f"{seen[(facility, reader)]}")
            seen[(facility, reader)] = line
            out.append((facility, reader, username))
    except csv.Error as exc:
        raise ReaderCsvError(f"line {rows.line_num}: unreadable CSV ({exc})") from None
    return out


def import_readers(registry: Registry, source: Path, out: Path) -> int:
    """Register every reader of ``source`` and write their credentials to ``out``."""
    rows = parse_readers_csv(source.read_text(encoding="utf-8"))
    passwords = [new_password() for _ in rows]
    accounts = [BrokerAccount(u, mosquitto_hash(pw), f, r) for (f, r, u), pw in zip(rows, passwords, strict=True)]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite earlier credentials
    try:
        count = registry.add_readers(accounts)
    except BaseException:
        os.close(fd)
        out.unlink()
        raise
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["facility", "reader", "mqtt_username", "mqtt_password"])
        writer.writerows([f, r, u, pw] for (f, r, u), pw in zip(rows, passwords, strict=True))
    return count
