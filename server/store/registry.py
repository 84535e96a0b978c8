"""The registry: health facilities, their readers and the readers' broker credentials.

Codes, reader ids and usernames follow the contract's identifier rules
(:mod:`contract.topics`): whatever the registry holds, an event can carry, a topic can
name and the broker's ACL file can hold on one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError

from contract.topics import is_facility_code, is_reader_id, is_username, may_hold_username, reader_username
from server.db import FACILITY_TYPES
from server.store.base import FACILITY, READER, StoreBase, upsert, utcnow

TYPE_ALIASES = {
    "hospital": "hospital",
    "bệnh viện": "hospital",
    "benh vien": "hospital",
    "health_station": "health_station",
    "trạm y tế": "health_station",
    "tram y te": "health_station",
    "private_clinic": "private_clinic",
    "phòng khám tư nhân": "private_clinic",
    "phong kham tu nhan": "private_clinic",
}
FACILITY_CSV_COLUMNS = ("code", "name", "type", "province", "district", "commune")


class RegistryError(ValueError):
    """The registry refuses this input; the message says which row, column or name."""


IDENTIFIER_HINT = "ASCII letters, digits, '_' and '-' only"
#: The longest text each column holds (the database's column sizes).
COLUMN_LIMITS = {"code": 32, "name": 300, "type": 40, "province": 100, "district": 100, "commune": 100}


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a facilities CSV; refuses missing columns, ragged rows and unreadable text."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""), restkey="\0extra")
    done = 0  # the last line of the last good row: an unreadable row starts after it
    try:
        fields = reader.fieldnames or []
        done = reader.line_num
        missing = [c for c in FACILITY_CSV_COLUMNS if c not in fields]
        if missing:
            raise RegistryError(f"line 1: the CSV lacks the column(s): {', '.join(missing)}")
        for row in reader:
            line = reader.line_num
            if "\0extra" in row:
                raise RegistryError(f"line {line}: more cells than the {len(fields)} columns of the header")
            cells: dict[str, str] = {}
            for column in FACILITY_CSV_COLUMNS:
                value = row.get(column)
                if value is None:
                    raise RegistryError(f"line {line}, column '{column}': missing (the row is short)")
                cells[column] = value
            done = line
            yield line, cells
    except csv.Error as exc:  # e.g. a field over 128 KiB, a NUL byte, an unclosed quote
        raise RegistryError(f"line {done + 1}: unreadable CSV ({exc})") from None


def _facility_row(line: int, row: dict[str, str]) -> dict[str, str]:
    values = {}
    for column in FACILITY_CSV_COLUMNS:
        value = row[column].strip()
        where = f"line {line}, column '{column}'"
        if any(not ch.isprintable() for ch in value):
            raise RegistryError(f"{where}: control characters (NUL, newline, tab...) are not allowed")
        if len(value) > COLUMN_LIMITS[column]:
            raise RegistryError(f"{where}: longer than {COLUMN_LIMITS[column]} characters")
        values[column] = value
    if not is_facility_code(values["code"]):
        raise RegistryError(f"line {line}, column 'code': bad facility code {values['code']!r} "
                            f"({IDENTIFIER_HINT}, 1 to 32)")
    kind = TYPE_ALIASES.get(values["type"].lower())
    if kind is None:
        raise RegistryError(f"line {line}, column 'type': must be one of {', '.join(FACILITY_TYPES)}")
    values["type"] = kind
    for column in ("name", "province", "district"):
        if not values[column]:
            raise RegistryError(f"line {line}, column '{column}': empty")
    return values


class BrokerAccount(NamedTuple):
    """A reader's broker login and the one facility and reader it may publish as."""

    username: str
    password_hash: str | None
    facility_code: str
    reader_id: str


def auto_register_reader(conn: Connection, facility: str, reader: str, now: datetime) -> None:
    """Register an unknown facility and reader inside the writer's transaction (demos and tests only)."""
    conn.execute(
        upsert(conn, FACILITY)
        .values(code=facility, name=facility, type="health_station", province="", district="", commune="")
        .on_conflict_do_nothing()
    )
    conn.execute(
        upsert(conn, READER)
        .values(facility_code=facility, reader_id=reader, registered_at=now)
        .on_conflict_do_nothing()
    )


class Registry(StoreBase):
    """Facilities, readers and credentials."""

    def registered(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (facility, reader) pairs are registered."""
        wanted = list(pairs)
        found: set[tuple[str, str]] = set()
        if not wanted:
            return found
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 200):
                chunk = wanted[i : i + 200]
                cond = or_(*[and_(READER.c.facility_code == f, READER.c.reader_id == r) for f, r in chunk])
                found.update(
                    (f, r) for f, r in conn.execute(select(READER.c.facility_code, READER.c.reader_id).where(cond))
                )
        return found

    def import_facilities(self, text: str) -> int:
        """Insert or update facilities from CSV (code,name,type,province,district,commune).

        All or nothing: the first bad cell refuses the whole file, naming its line and column.
        """
        rows = [_facility_row(line, row) for line, row in _csv_rows(text)]
        with self.engine.begin() as conn:
            for values in rows:
                stmt = upsert(conn, FACILITY).values(**values)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}
                    )
                )
        return len(rows)

    def add_reader(
        self, facility: str, reader: str, username: str | None = None, password_hash: str | None = None
    ) -> None:
        """Register a reader (or replace its credentials); names follow the contract's identifier rules."""
        if not is_facility_code(facility):
            raise RegistryError(f"bad facility code {facility!r}: {IDENTIFIER_HINT}, up to 32")
        if not is_reader_id(reader):
            raise RegistryError(f"bad reader id {reader!r}: {IDENTIFIER_HINT}, up to 64")
        if username is not None and not is_username(username):
            raise RegistryError(f"bad username {username!r}: {IDENTIFIER_HINT} and '.', up to 128")
        if username is not None and not may_hold_username(username, facility, reader):
            raise RegistryError(f"username {username!r} is not this reader's: a name with '/' must be "
                                f"{reader_username(facility, reader)!r}")
        with self.engine.begin() as conn:
            if conn.execute(select(FACILITY.c.code).where(FACILITY.c.code == facility)).first() is None:
                raise RegistryError(f"facility {facility} is not registered: import it first")
            if username is not None:
                holder = conn.execute(
                    select(READER.c.facility_code, READER.c.reader_id).where(
                        READER.c.mqtt_username == username,
                        or_(READER.c.facility_code != facility, READER.c.reader_id != reader),
                    )
                ).first()
                if holder is not None:
                    raise RegistryError(f"username {username} is already used by reader {holder[0]}/{holder[1]}")
            values = {"mqtt_username": username, "password_hash": password_hash}
            try:
                conn.execute(
                    upsert(conn, READER)
                    .values(facility_code=facility, reader_id=reader, registered_at=utcnow(), **values)
                    .on_conflict_do_update(index_elements=["facility_code", "reader_id"], set_=values)
                )
            except IntegrityError as exc:  # a concurrent `reader add` took the username meanwhile
                raise RegistryError(f"username {username} is already used by another reader") from exc

    def add_readers(self, readers: Sequence[BrokerAccount]) -> int:
        """Register many readers (or replace their credentials) in one transaction: all or
        nothing. For the bulk CSV import: thousands of readers in seconds, not one
        transaction and one broker-file rewrite each."""
        for n, (username, _hash, facility, reader) in enumerate(readers, start=1):
            if not is_facility_code(facility) or not is_reader_id(reader):
                raise RegistryError(f"reader {n}: bad facility code or reader id {facility!r}/{reader!r}")
            if not may_hold_username(username, facility, reader):
                raise RegistryError(f"reader {n}: username {username!r} is not this reader's")
        usernames = [r.username for r in readers]
        if len(set(usernames)) != len(usernames):
            raise RegistryError("the same username is given to two readers")
        now = utcnow()
        with self.engine.begin() as conn:
            known = {c for (c,) in conn.execute(select(FACILITY.c.code))}
            missing = sorted({r.facility_code for r in readers} - known)
            if missing:
                raise RegistryError(f"facilities not registered (import them first): {', '.join(missing[:10])}"
                                    + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
            stmt = upsert(conn, READER).values(
                facility_code=bindparam("f"), reader_id=bindparam("r"), registered_at=bindparam("t"),
                mqtt_username=bindparam("u"), password_hash=bindparam("h"))
            stmt = stmt.on_conflict_do_update(index_elements=["facility_code", "reader_id"], set_={
                "mqtt_username": stmt.excluded.mqtt_username, "password_hash": stmt.excluded.password_hash})
            try:
                conn.execute(stmt, [{"f": r.facility_code, "r": r.reader_id, "t": now, "u": r.username,
                                     "h": r.password_hash} for r in readers])
            except IntegrityError as exc:  # a username another (existing) reader holds
                raise RegistryError("a username in the file is already another reader's") from exc
        return len(readers)

    def broker_accounts(self) -> list[BrokerAccount]:
        """Every reader with credentials, by username."""
        with self.engine.connect() as conn:
            return [
                BrokerAccount(r.mqtt_username, r.password_hash, r.facility_code, r.reader_id)
                for r in conn.execute(
                    select(READER.c.mqtt_username, READER.c.password_hash, READER.c.facility_code, READER.c.reader_id)
                    .where(READER.c.mqtt_username.is_not(None))
                    .order_by(READER.c.mqtt_username)
                )
            ]
