"""Registry input checked by the contract's identifier rules: no ACL injection through a username, a
duplicate username is a clean error, and every bad import names its line and column with a 4xx (on
SQLite and PostgreSQL), storing nothing."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from fastapi.testclient import TestClient
from srvhelpers import ADMIN_TOKEN, auth, make_settings
from test_spoofing import _write_config

from server.app import create_app
from server.brokerfiles import BrokerFileError, acl_text
from server.cli import main as cli
from server.routes import facilities as facilities_route
from server.store import BrokerAccount

HEADER = "code,name,type,province,district,commune\n"
CSV = {"Content-Type": "text/csv"}


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli(args)
        except SystemExit as exc:  # argparse refuses the arguments
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_a_username_with_a_newline_cannot_add_acl_lines_and_a_duplicate_username_is_a_clean_error(tmp_path):
    config = _write_config(tmp_path, 1883)
    (tmp_path / "f.csv").write_text(HEADER + "34001,A,hospital,P,D,C\n34002,B,hospital,P,D,C\n")
    assert _run(["facility", "import", str(tmp_path / "f.csv"), "--config", config])[0] == 0
    evil = "evil\ntopic readwrite #\nuser x"
    code, _out, err = _run(["reader", "add", "--facility", "34001", "--reader", "desk-1", "--username", evil,
                            "--config", config])
    assert code == 2 and "not a valid username" in err
    assert _run(["reader", "add", "--facility", "34001\n", "--reader", "d", "--config", config])[0] == 2
    assert _run(["reader", "add", "--facility", "34001", "--reader", "desk-1", "--username", "shared",
                 "--config", config])[0] == 0
    code, _out, err = _run(["reader", "add", "--facility", "34002", "--reader", "desk-1", "--username", "shared",
                            "--config", config])
    assert code == 1 and "username shared is already used by reader 34001/desk-1" in err
    assert "Traceback" not in err
    acl = (tmp_path / "acl").read_text()
    assert "readwrite" not in acl and "evil" not in acl
    assert acl.count("user shared") == 1
    with pytest.raises(BrokerFileError):
        acl_text([BrokerAccount(evil, None, "34001", "desk-1")], "cccd-server")


BAD_IMPORTS = [
    ("9990\u0661,A,hospital,P,D,C\n", "line 2, column 'code'"),  # an Arabic-Indic digit: isalnum() but not ASCII
    ("34001,A,hospital,P,D,C\n34002,B,clinic,P,D,C\n", "line 3, column 'type'"),
    ("34001,A,hospital,P,D\n", "line 2, column 'commune'"),
    ("34001,A,hospital,P,D,C,extra\n", "line 2: more cells"),
    ("34001," + "N" * 301 + ",hospital,P,D,C\n", "line 2, column 'name': longer than 300"),
    ("34001,A\x00B,hospital,P,D,C\n", "line 2"),
    ('34001,"' + "x" * 140_000 + '",hospital,P,D,C\n', "line 2"),
    ("34001,,hospital,P,D,C\n", "line 2, column 'name': empty"),
    ("34001,A,hospital,P," + "D" * 101 + ",C\n", "line 2, column 'district'"),
]


@pytest.mark.parametrize("rows, message", BAD_IMPORTS)
def test_a_bad_import_names_its_line_and_column_with_a_4xx_and_stores_nothing(database_url, rows, message):
    app = create_app(make_settings(database_url), ingest=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/facilities/import", content=(HEADER + rows).encode(), headers=CSV | auth(ADMIN_TOKEN))
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"], r.json()
    assert app.state.store.facilities() == []


def test_bodies_that_are_not_utf8_csv_or_too_large_get_a_4xx(tmp_path, monkeypatch):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)
    admin = auth(ADMIN_TOKEN)
    with TestClient(app, raise_server_exceptions=False) as client:
        utf16 = (HEADER + "34001,Bệnh viện,hospital,P,D,C\n").encode("utf-16")
        r = client.post("/api/v1/facilities/import", content=utf16, headers=CSV | admin)
        assert r.status_code == 422 and "not UTF-8" in r.json()["detail"]
        plain = {"Content-Type": "text/plain"}
        r = client.post("/api/v1/facilities/import", content=HEADER.encode(), headers=plain | admin)
        assert r.status_code == 415
        monkeypatch.setattr(facilities_route, "MAX_IMPORT_BYTES", 1000)
        r = client.post("/api/v1/facilities/import", content=(HEADER + "x" * 2000).encode(), headers=CSV | admin)
        assert r.status_code == 413
    assert app.state.store.facilities() == []
