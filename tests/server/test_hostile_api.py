"""The API against a hostile browser, a guessing client and a spreadsheet: admin actions take the
header only, the session cookie is opaque, every answer carries the security headers, wrong tokens
are rate-limited, CSV cells cannot run as formulas, weak tokens and readable secrets are refused, and
every endpoint answers its worst parameters with a 4xx, never a 500.

The attacks on a running server (the ``app`` fixture) go to one live server whose ingest runs on the
shipped broker configuration while a well-behaved reader publishes all along; after each attack its
events are all stored and receipted, never more than ``LAG_BOUND`` behind when the attack ended, and
the delay is printed (the module's table, for docs/server.md)."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from srvhelpers import ADMIN_TOKEN, READ_TOKEN, auth, facilities_csv, make_settings, wait_until
from template_broker import SERVER_PASSWORD, SERVER_USER, ReaderClient, TemplateBroker

from contract.events import CheckInEvent, Method, Receipt, new_event_id
from contract.levels import TrustLevel
from contract.settings import ConfigError
from contract.topics import checkin_topic, receipt_topic
from server.app import create_app
from server.db import init_db, make_engine
from server.security import FailedAuthLimiter, SessionStore
from server.settings import ServerSettings
from server.store.base import FAILURES, SESSIONS
from simulators.services import free_port
from tests.processes import ServerProcess

CSV = {"Content-Type": "text/csv"}
HOSTILE_NAMES = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTab"]


# ---------------------------------------------------------------- the well-behaved reader meanwhile
#: The reader that keeps publishing while the API is attacked (on the shipped broker configuration).
GOOD = ("reader-36001-desk-a", "good-reader-password-0123", "36001", "desk-a")
#: How far behind the good reader's stored events may be when an attack ends: ingest kept going for
#: everyone (a count, not a time: the machine is shared). It publishes one event per PUBACK and pause.
LAG_BOUND = 400
API_LIMITS = {"read_tokens": [READ_TOKEN], "admin_tokens": [ADMIN_TOKEN], "max_failed_auth": 5, "lockout_seconds": 2}


class GoodReader:
    """A reader publishing check-ins at a steady pace on its own thread, QoS 1, with its receipts."""

    def __init__(self, client: ReaderClient) -> None:
        self.client = client
        self.sent: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="good-reader", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> GoodReader:
        self.client.subscribe(receipt_topic(GOOD[2], GOOD[3]))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            ev = CheckInEvent(event_id=new_event_id(), facility_code=GOOD[2], reader_id=GOOD[3],
                              occurred_at=datetime.now(UTC), method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                              citizen_pseudonym=f"{len(self.sent):064x}")
            try:
                code = self.client.publish(checkin_topic(GOOD[2], GOOD[3]), ev.to_json_bytes(), timeout=60)
            except BaseException as exc:  # surfaced by the checkpoint
                self.errors.append(exc)
                return
            if code not in (0, 16):
                self.errors.append(AssertionError(f"PUBACK {code}"))
            with self._lock:
                self.sent.append(ev.event_id)
            self._stop.wait(0.02)

    def sent_ids(self) -> list[str]:
        with self._lock:
            return list(self.sent)

    def receipted(self) -> set[str]:
        with self.client._cond:
            messages = list(self.client.messages)
        return {i for topic, payload in messages if topic == receipt_topic(GOOD[2], GOOD[3])
                for i in Receipt.from_json_bytes(payload).event_ids}


@dataclass
class Live:
    """The real server app with its MQTT ingest on the shipped broker, and the good reader publishing."""

    app: FastAPI
    reader: GoodReader
    rows: list[tuple[str, int, int, int, float]] = field(default_factory=list)
    checked: int = 0

    def stored(self) -> set[str]:
        with self.app.state.store.engine.connect() as conn:
            return {r[0] for r in conn.execute(text("SELECT event_id FROM checkin_event WHERE facility_code = :f"),
                                               {"f": GOOD[2]})}

    def checkpoint(self, attack: str) -> None:
        """After an attack: how far behind the reader's stored events were when it ended (bounded in
        events), then every event it sent until then stored once and receipted; the delay is printed."""
        ended = time.monotonic()
        sent = self.reader.sent_ids()
        lag = len(set(sent) - self.stored())
        wait_until(lambda: set(sent) <= self.stored(), 120, "the good reader's events stored")
        wait_until(lambda: set(sent) <= self.reader.receipted(), 120, "the good reader's receipts")
        delay = time.monotonic() - ended
        assert not self.reader.errors, self.reader.errors
        self.rows.append((attack, len(sent) - self.checked, len(sent), lag, delay))
        self.checked = len(sent)
        assert lag <= LAG_BOUND, (attack, lag)
        assert len(self.stored()) >= len(sent) and self.app.state.ingestor.counters["quarantined"] == 0


@asynccontextmanager
async def _module_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield  # the module runs the ingest for all its tests: a test's client must not stop it


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'server.sqlite'}"
    with TemplateBroker([GOOD]) as broker:
        app = create_app(make_settings(db, broker.server_url, api=API_LIMITS, mqtt={
            "url": broker.server_url, "username": SERVER_USER, "password": SERVER_PASSWORD,
            "client_id": "cccd-server-hostile-api"}))
        app.state.store.import_facilities(facilities_csv([GOOD[2]]))
        app.state.store.add_reader(GOOD[2], GOOD[3])
        app.router.lifespan_context = _module_lifespan
        ingestor = app.state.ingestor
        ingestor.start()
        reader = None
        try:
            wait_until(lambda: ingestor.subscribed, 15, "the server to subscribe")
            reader = GoodReader(broker.reader(GOOD[0], GOOD[1], "hostile-api-good-reader").connect()).start()
            wait_until(lambda: len(reader.receipted()) >= 5, 30, "the good reader's first receipts")
            state = Live(app, reader)
            yield state
        finally:
            if reader is not None:
                reader.stop()
            ingestor.stop()
            app.state.store.engine.dispose()
    print("\nhostile API, a good reader publishing meanwhile: attack | its events since the previous attack "
          "| sent in all | behind when it ended | all stored and receipted after (s)")
    for attack, during, total, lag, delay in state.rows:
        print(f"{attack} | {during} | {total} | {lag} | {delay:.2f}")


@pytest.fixture
def app(live: Live, request: pytest.FixtureRequest) -> Iterator[FastAPI]:
    """The live server under attack; after the test, the good reader's checkpoint."""
    yield live.app
    live.checkpoint(request.node.name.removeprefix("test_"))


@pytest.fixture
def fresh_app(tmp_path):  # type: ignore[no-untyped-def]
    """A server of its own (no ingest), for tests that read whole tables."""
    return create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)


def _login(client: TestClient, token: str = READ_TOKEN) -> str:
    client.post("/dashboard/login", data={"token": token}, follow_redirects=False)
    return client.cookies.get("cccd_session") or ""


def test_admin_import_takes_the_header_only_never_the_browsers_session(app):
    body = "code,name,type,province,district,commune\n34001,A,hospital,P,D,C\n"
    before = app.state.store.facilities()
    with TestClient(app) as client:
        sid = _login(client, ADMIN_TOKEN)
        assert sid and sid not in (ADMIN_TOKEN, READ_TOKEN)
        # a page in the admin's browser (the cookie rides along, any content type)
        for headers in (CSV, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}):
            r = client.post("/api/v1/facilities/import", content=body, headers=headers)
            assert r.status_code == 401, r.text
        assert app.state.store.facilities() == before
        ok = client.post("/api/v1/facilities/import", content=body, headers=CSV | auth(ADMIN_TOKEN))
        assert ok.json() == {"imported": 1}


def test_the_session_cookie_is_opaque_expiring_httponly_strict_secure_over_tls_and_dies_on_logout(app):
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post("/dashboard/login", data={"token": READ_TOKEN}, follow_redirects=False)
        cookie = r.headers["set-cookie"]
        sid = client.cookies.get("cccd_session")
        assert READ_TOKEN not in cookie and sid and len(sid) >= 40
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie and "Max-Age=" in cookie
        assert client.get("/api/v1/facilities").status_code == 200  # the session reads
        assert "strict-transport-security" in client.get("/api/v1/health").headers
        client.post("/dashboard/logout", follow_redirects=False)
        client.cookies.set("cccd_session", sid)
        assert client.get("/api/v1/facilities").status_code == 401
        assert client.get("/dashboard", follow_redirects=False).status_code == 303
    with TestClient(app) as plain:
        r = plain.post("/dashboard/login", data={"token": READ_TOKEN}, follow_redirects=False)
        assert "Secure" not in r.headers["set-cookie"]


def test_a_sign_in_posted_from_another_origin_is_refused(app):
    with TestClient(app) as client:
        r = client.post("/dashboard/login", data={"token": READ_TOKEN}, follow_redirects=False,
                        headers={"Origin": "http://127.0.0.1:9999"})
        assert r.status_code == 403 and "cccd_session" not in r.headers.get("set-cookie", "")


def test_every_answer_carries_the_security_headers_and_no_page_loads_a_cdn(app):
    with TestClient(app) as client:
        answers = [client.get("/api/v1/health"), client.get("/dashboard/login"), client.get("/nowhere"),
                   client.get("/api/v1/facilities", headers=auth()),
                   client.get("/api/v1/facilities", params={"format": "csv"}, headers=auth()),
                   client.get("/api/v1/readers")]
        for r in answers:
            assert "default-src 'none'" in r.headers["content-security-policy"], r.url
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "same-origin"
            assert r.headers["cache-control"] == "no-store"
        assert client.get("/api/v1/docs", headers=auth()).status_code == 404
        for page in (client.get("/dashboard/login").text, client.get("/api/v1/openapi.json", headers=auth()).text):
            assert "cdn" not in page.lower() and "<script" not in page.lower()


def test_wrong_tokens_are_rate_limited_per_client_with_429_and_the_right_token_waits_too(app):
    assert app.state.settings.api.max_failed_auth == 5 and app.state.settings.api.lockout_seconds == 2
    with TestClient(app) as client:
        codes = [client.get("/api/v1/facilities", headers=auth(f"wrong-token-{i:010d}")).status_code
                 for i in range(5)]
        assert codes == [401] * 5
        locked = client.get("/api/v1/facilities", headers=auth())
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        assert client.post("/dashboard/login", data={"token": READ_TOKEN}).status_code == 429
        assert client.get("/api/v1/health").status_code == 200  # no token: never limited
        deadline = time.monotonic() + 10
        while client.get("/api/v1/facilities", headers=auth()).status_code == 429 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/api/v1/facilities", headers=auth()).status_code == 200


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised_in_every_export(app):
    store = app.state.store
    lines = ["code,name,type,province,district,commune"]
    for i, name in enumerate(HOSTILE_NAMES):
        lines.append(f'3400{i},"{name.replace(chr(34), chr(34) * 2)}",hospital,"{name.replace(chr(34), chr(34) * 2)}",'
                     f'"-D{i}",C')
    store.import_facilities("\n".join(lines) + "\n")
    for i in range(len(HOSTILE_NAMES)):
        store.add_reader(f"3400{i}", "desk-1")
    now = datetime.now(UTC)
    store.store([CheckInEvent(event_id=new_event_id(), facility_code="34000", reader_id="desk-1", occurred_at=now,
                              method=Method.QR, trust_level=TrustLevel.QR_ONLY, citizen_pseudonym="ab" * 32)])
    day = now.date()
    q = {"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat(), "format": "csv"}
    exports = {
        "facilities": ("/api/v1/facilities", {"format": "csv"}),
        "readers": ("/api/v1/readers", {"format": "csv"}),
        "coverage": ("/api/v1/coverage", {"format": "csv"}),
        "uncovered": ("/api/v1/coverage/uncovered", {"format": "csv"}),
        "usage-by-facility": ("/api/v1/usage", q | {"breakdown": "facility"}),
        "usage-by-district": ("/api/v1/usage", q | {"breakdown": "district"}),
    }
    with TestClient(app) as client:
        for name, (path, params) in exports.items():
            text = client.get(path, params=params, headers=auth()).text
            cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
            assert cells, name
            assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], (name, text[:300])
        text = client.get("/api/v1/facilities", params={"format": "csv"}, headers=auth()).text
        assert "'=HYPERLINK" in text and "'-2+3" in text


@pytest.mark.parametrize("token, why", [
    ("a" * 16, "predictable"), (" " * 16, "spaces"), ("read-token-01234\n56789", "spaces"),
    ("short", "at least 16"), ("abababababababababab", "predictable"),
])
def test_weak_tokens_are_refused_by_name(token, why):
    with pytest.raises(ConfigError, match=why):
        ServerSettings.load(None, api={"read_tokens": [token]})


def test_the_same_token_for_reading_and_administering_is_refused():
    with pytest.raises(ConfigError, match="both a read token and an admin token"):
        ServerSettings.load(None, api={"read_tokens": [READ_TOKEN], "admin_tokens": [READ_TOKEN]})


def test_a_settings_file_with_secrets_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(f'[api]\nread_tokens = ["{READ_TOKEN}"]\n')
    for mode in (0o644, 0o640, 0o604):
        path.chmod(mode)
        with pytest.raises(ConfigError, match="chmod 600"):
            ServerSettings.load(path)
    path.chmod(0o600)
    assert ServerSettings.load(path).api.read_tokens[0].get_secret_value() == READ_TOKEN
    public = tmp_path / "public.toml"
    public.write_text('database_url = "sqlite://"\n')  # no secret in it: the tokens come from elsewhere
    public.chmod(0o644)
    assert ServerSettings.load(public, api={"read_tokens": [READ_TOKEN]}).database_url == "sqlite://"


WORST = [
    ("/api/v1/usage", {"from": "0001-01-01", "to": "9999-12-31", "group_by": "week"}),
    ("/api/v1/usage", {"from": "9999-12-01", "to": "9999-12-31", "group_by": "month"}),
    ("/api/v1/usage", {"from": "2020-01-01", "to": "2029-12-31", "group_by": "week"}),
    ("/api/v1/usage", {"from": "2026-01-02", "to": "2026-01-01"}),
    ("/api/v1/usage", {"from": "not-a-date", "to": "2026-01-01"}),
    ("/api/v1/usage", {"from": "2026-01-01", "to": "2026-01-02", "facility": "x\n" * 50}),
    ("/api/v1/usage", {"from": "2026-01-01", "to": "2026-01-02", "province": "P" * 5000}),
    ("/api/v1/citizens", {"from": "0001-01-01", "to": "9999-12-31", "group_by": "week"}),
    ("/api/v1/citizens", {"from": "2020-01-01", "to": "2029-12-31", "group_by": "week"}),
    ("/api/v1/citizens", {"from": "2099-12-01", "to": "2099-12-31", "group_by": "month"}),
    ("/api/v1/coverage", {"days": "100000"}),
    ("/api/v1/coverage", {"level": "commune"}),
    ("/api/v1/coverage/uncovered", {"days": "-1"}),
    ("/api/v1/readers", {"facility": "'; DROP TABLE reader; --"}),
    ("/api/v1/facilities", {"province": "\x00" * 10}),
    ("/api/v1/quarantine", {"from": "0001-01-01", "to": "9999-12-31"}),
    ("/api/v1/quarantine", {"from": "2026-01-01", "to": "2026-01-02", "limit": "100000000"}),
    ("/dashboard", {"days": "100000000", "province": "P" * 5000}),
]


def test_every_endpoint_answers_its_worst_parameters_with_a_4xx_or_an_answer_never_a_500(database_url):
    _worst_parameters(create_app(make_settings(database_url), ingest=False))


def test_the_worst_parameters_against_the_live_server_while_a_reader_publishes(app):
    _worst_parameters(app)


def _worst_parameters(app: FastAPI) -> None:
    rows = []
    with TestClient(app, raise_server_exceptions=False) as client:
        _login(client, READ_TOKEN)
        for path, params in WORST:
            token = ADMIN_TOKEN if "quarantine" in path else READ_TOKEN
            started = time.perf_counter()
            r = client.get(path, params=params, headers=auth(token), follow_redirects=False)
            rows.append((path, params, r.status_code, time.perf_counter() - started))
    print(f"\n{app.state.store.engine.dialect.name}: endpoint | worst parameters | status | seconds")
    for path, params, code, seconds in rows:
        shown = {k: (v if len(v) < 30 else f"{v[:12]!r}...({len(v)})") for k, v in params.items()}
        print(f"{path} | {shown} | {code} | {seconds:.3f}")
    assert all(code < 500 for _p, _q, code, _s in rows), rows
    assert [code for _p, _q, code, _s in rows][:2] == [422, 422]


def test_the_quarantine_is_for_admins_only_and_through_the_header(app):
    q = {"from": "2026-01-01", "to": "2026-01-02"}
    with TestClient(app) as client:
        assert client.get("/api/v1/quarantine", params=q, headers=auth()).status_code == 403
        _login(client, ADMIN_TOKEN)
        assert client.get("/api/v1/quarantine", params=q).status_code == 401  # an admin's session is not enough
        assert client.get("/api/v1/quarantine", params=q, headers=auth(ADMIN_TOKEN)).json() == []


# ---------------------------------------------------------------- sessions and the limiter in the database

def _session_rows(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [(r.id_sha256, r.role) for r in conn.execute(select(SESSIONS))]


def test_an_expired_session_is_refused_and_deleted_and_expired_ones_are_pruned_at_sign_in(fresh_app):
    app = fresh_app
    clock = [time.time()]
    app.state.sessions = SessionStore(app.state.store.engine, lifetime=3600, clock=lambda: clock[0])
    with TestClient(app) as client:
        sid = _login(client)
        assert client.get("/api/v1/facilities").status_code == 200
        assert _session_rows(app.state.store.engine) == [(hashlib.sha256(sid.encode()).hexdigest(), "read")]
        clock[0] += 3599
        assert client.get("/api/v1/facilities").status_code == 200  # still within its life
        clock[0] += 2
        assert client.get("/api/v1/facilities").status_code == 401  # expired: refused...
        assert _session_rows(app.state.store.engine) == []  # ...and deleted
        assert client.get("/dashboard", follow_redirects=False).status_code == 303
    other = SessionStore(app.state.store.engine, lifetime=10, clock=lambda: clock[0])
    other.create("read")
    clock[0] += 11
    fresh = other.create("admin")  # signing in prunes the expired one
    assert _session_rows(app.state.store.engine) == [(hashlib.sha256(fresh.encode()).hexdigest(), "admin")]
    assert other.get(fresh + "x") is None and other.get("") is None and other.get("x" * 10_000) is None


def test_the_failed_token_limit_is_shared_by_two_server_processes_on_one_database(database_url):
    """Two apps on one database share no memory, as two API workers would not: the failures counted by
    one lock the client out of the other, so N workers still allow ``max_failed_auth``, not N times it
    (SQLite and PostgreSQL)."""
    db = database_url
    api = {"read_tokens": [READ_TOKEN], "admin_tokens": [ADMIN_TOKEN], "max_failed_auth": 6, "lockout_seconds": 60}
    first = create_app(make_settings(db, api=api), ingest=False)
    second = create_app(make_settings(db, api=api), ingest=False)
    with TestClient(first) as a, TestClient(second) as b:
        codes = []
        for i in range(6):  # alternate between the workers, as a load balancer would
            client = a if i % 2 == 0 else b
            codes.append(client.get("/api/v1/facilities", headers=auth(f"wrong-token-{i:010d}")).status_code)
        assert codes == [401] * 6
        for client in (a, b):
            locked = client.get("/api/v1/facilities", headers=auth())
            assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 60
            assert client.post("/dashboard/login", data={"token": READ_TOKEN}).status_code == 429


def test_failures_in_a_window_count_and_an_old_window_starts_over(database_url):
    engine = make_engine(database_url)
    init_db(engine)
    clock = [1_000_000.0]
    limiter = FailedAuthLimiter(engine, max_failures=3, window=60, lockout=30, clock=lambda: clock[0])
    limiter.failed("10.0.0.1")
    limiter.failed("10.0.0.1")
    clock[0] += 61  # the two failures fall out of the window
    limiter.failed("10.0.0.1")
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failed("10.0.0.2")  # another client counts on its own
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 30 and limiter.retry_after("10.0.0.2") is None
    clock[0] += 30
    assert limiter.retry_after("10.0.0.1") is None
    clock[0] += 61
    limiter.failed("10.0.0.3")  # prunes the clients neither counting nor locked
    with engine.connect() as conn:
        assert [r.client for r in conn.execute(select(FAILURES))] == ["10.0.0.3"]
    engine.dispose()


def test_a_session_survives_a_restart_of_the_real_server_and_the_lockout_does_too(tmp_path):
    """``cccd-server serve`` (a subprocess): signed in, SIGTERM, started again: the same cookie still
    reads; the cookie never holds the token and the database only the id's hash; wrong tokens counted
    before the restart still count after it; signing out deletes the session."""
    db_path = tmp_path / "server.sqlite"
    with TemplateBroker([]) as broker:
        port = free_port()
        config = broker.server_config(db_path, port, "cccd-server-sessions", READ_TOKEN, ADMIN_TOKEN,
                                      "max_failed_auth = 4\nlockout_seconds = 600\n")
        server = ServerProcess(tmp_path, broker.server_url, auto_register=False, config_text=config, port=port)
        try:
            server.start()
            signin = httpx.post(f"{server.base}/dashboard/login", data={"token": READ_TOKEN}, timeout=10)
            assert signin.status_code == 303
            set_cookie = signin.headers["set-cookie"]
            sid = signin.cookies["cccd_session"]
            assert READ_TOKEN not in set_cookie and ADMIN_TOKEN not in set_cookie and len(sid) >= 40
            cookies = {"cccd_session": sid}
            assert httpx.get(f"{server.base}/dashboard", cookies=cookies, timeout=10).status_code == 200
            for i in range(2):
                wrong = httpx.get(f"{server.base}/api/v1/facilities", headers=auth(f"wrong-token-{i:010d}"))
                assert wrong.status_code == 401

            server.stop()  # SIGTERM: the process and its memory are gone
            stored = sqlite3.connect(db_path).execute("SELECT id_sha256, role FROM dashboard_session").fetchall()
            assert stored == [(hashlib.sha256(sid.encode()).hexdigest(), "read")]
            assert sid.encode() not in db_path.read_bytes() and READ_TOKEN.encode() not in db_path.read_bytes()
            server.start()

            page = httpx.get(f"{server.base}/dashboard", cookies=cookies, timeout=10, follow_redirects=False)
            assert page.status_code == 200  # still signed in
            assert httpx.get(f"{server.base}/api/v1/facilities", cookies=cookies, timeout=10).status_code == 200
            for i in range(2, 4):  # two more wrong tokens: four in the window, across the restart
                wrong = httpx.get(f"{server.base}/api/v1/facilities", headers=auth(f"wrong-token-{i:010d}"))
                assert wrong.status_code == 401
            locked = httpx.get(f"{server.base}/api/v1/facilities", headers=auth(), timeout=10)
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1

            out = httpx.post(f"{server.base}/dashboard/logout", cookies=cookies, timeout=10)
            assert out.status_code == 303
            assert httpx.get(f"{server.base}/api/v1/facilities", cookies=cookies, timeout=10).status_code == 401
            assert sqlite3.connect(db_path).execute("SELECT count(*) FROM dashboard_session").fetchone() == (0,)
        finally:
            server.stop()
