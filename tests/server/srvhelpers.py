"""Helpers shared by the server tests (imported as a plain module: tests/server is on sys.path)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from contract.topics import reader_username
from server.settings import ServerSettings
from server.store import EventStore
from server.store.registry import BrokerAccount
from simulators.fleet import facility_codes
from simulators.services import free_port

READ_TOKEN = "read-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"
DISTRICTS = ("Vũ Thư", "Kiến Xương", "Tiền Hải")


def make_settings(database_url: str, broker_url: str = "mqtt://127.0.0.1:1", **overrides: object) -> ServerSettings:
    values: dict = {
        "database_url": database_url,
        "mqtt": {"url": broker_url, "client_id": f"cccd-server-test-{time.monotonic_ns()}"},
        "api": {"read_tokens": [READ_TOKEN], "admin_tokens": [ADMIN_TOKEN]},
    }
    values.update(overrides)
    return ServerSettings.load(None, **values)


def facilities_csv(codes: list[str], extra: int = 0, provinces: Sequence[str] = ("Thái Bình",)) -> str:
    """A registry CSV: the fleet's facilities spread over three districts (and round the ``provinces``),
    plus ``extra`` without readers."""
    lines = ["code,name,type,province,district,commune"]
    all_codes = codes + [f"99{i:03d}" for i in range(extra)]
    for i, code in enumerate(all_codes):
        kind = ("hospital", "trạm y tế", "private_clinic")[i % 3]
        lines.append(f"{code},Cơ sở y tế {code},{kind},{provinces[i % len(provinces)]},{DISTRICTS[i % 3]},Xã {i}")
    return "\n".join(lines) + "\n"


def register_fleet(store: EventStore, facilities: int, extra: int = 0, *, readers: int = 1,
                   provinces: Sequence[str] = ("Thái Bình",)) -> list[str]:
    """``facilities`` registered facilities (codes 34001...) with readers ``desk-1`` to ``desk-<readers>``
    each (their own ``<facility>/<reader>`` usernames), registered in one transaction; their codes."""
    codes = facility_codes(facilities)
    store.import_facilities(facilities_csv(codes, extra, provinces))
    desks = [f"desk-{d}" for d in range(1, readers + 1)]
    store.add_readers([BrokerAccount(reader_username(code, desk), None, code, desk)
                       for code in codes for desk in desks])
    return codes


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def auth(token: str = READ_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port for the block; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
