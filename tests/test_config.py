"""Settings: one TOML file, environment on top, unknown keys refused by name, secrets required."""

from __future__ import annotations

import os

import pytest

from edge.config import EdgeSettings
from edge.settings_base import ConfigError, read_secret_file, write_secret_file
from server.settings import ServerSettings

EDGE_TOML = """
facility_code = "34001"
reader_id = "desk-1"
pseudonym_key_file = "{key}"
state_dir = "{state}"
[mqtt]
url = "mqtt://127.0.0.1:1884"
"""


@pytest.fixture
def edge_toml(tmp_path):
    key = tmp_path / "key"
    write_secret_file(key, os.urandom(32))
    path = tmp_path / "edge.toml"
    path.write_text(EDGE_TOML.format(key=key, state=tmp_path / "state"))
    return path


def test_edge_settings_are_read_from_the_toml_file(edge_toml):
    s = EdgeSettings.load(edge_toml)
    assert s.facility_code == "34001" and s.mqtt.port == 1884
    assert len(s.pseudonym_key()) == 32


def test_environment_overrides_the_file_including_nested_keys(edge_toml, monkeypatch):
    monkeypatch.setenv("CCCD_EDGE_MQTT__URL", "mqtt://broker.example:1999")
    monkeypatch.setenv("CCCD_EDGE_READER_ID", "desk-9")
    s = EdgeSettings.load(edge_toml)
    assert (s.mqtt.host, s.mqtt.port, s.reader_id) == ("broker.example", 1999, "desk-9")


def test_unknown_key_is_an_error_that_names_the_key(edge_toml):
    edge_toml.write_text(edge_toml.read_text() + "hots = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'mqtt\.hots'"):
        EdgeSettings.load(edge_toml)


def test_unknown_top_level_key_is_an_error(edge_toml):
    edge_toml.write_text("facilty_code = 'x'\n" + edge_toml.read_text())
    with pytest.raises(ConfigError, match="unknown key 'facilty_code'"):
        EdgeSettings.load(edge_toml)


def test_missing_secret_has_no_default(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text('facility_code = "34001"\nreader_id = "desk-1"\n')
    with pytest.raises(ConfigError, match="missing key 'pseudonym_key_file'"):
        EdgeSettings.load(path)


def test_server_needs_read_tokens(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text('database_url = "sqlite://"\n')
    with pytest.raises(ConfigError, match="missing key 'api'"):
        ServerSettings.load(path)
    path.write_text('[api]\nread_tokens = ["short"]\n')
    with pytest.raises(ConfigError, match="at least 16"):
        ServerSettings.load(path)


def test_bad_values_are_reported_with_their_key(edge_toml):
    edge_toml.write_text(edge_toml.read_text().replace("mqtt://127.0.0.1:1884", "http://x"))
    with pytest.raises(ConfigError, match=r"key 'mqtt\.url'"):
        EdgeSettings.load(edge_toml)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        EdgeSettings.load(tmp_path / "nope.toml")


def test_key_file_readable_by_others_is_refused(tmp_path):
    key = tmp_path / "key"
    write_secret_file(key, os.urandom(32))
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secret_file(key)


def test_short_key_is_refused(tmp_path):
    key = tmp_path / "key"
    write_secret_file(key, b"0123")
    with pytest.raises(ConfigError, match="at least 32"):
        read_secret_file(key)


@pytest.mark.parametrize("key", [
    b" " + bytes(range(1, 32)),  # starts with a space
    bytes(range(100, 131)) + b"\n",  # ends with a line feed
    b"\t\r\n " + os.urandom(24) + b" \n\t\x0b",  # whitespace bytes at both ends
], ids=["leading-space", "trailing-newline", "both-ends"])
def test_a_binary_key_is_read_byte_for_byte_whitespace_at_its_ends_included(tmp_path, key):
    path = tmp_path / "key.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    assert read_secret_file(path) == key


def test_a_hex_key_file_with_its_line_break_still_reads_as_the_key(tmp_path):
    key = os.urandom(32)
    path = tmp_path / "key.hex"
    write_secret_file(path, key)
    path.write_text(path.read_text().strip() + "\n")
    assert read_secret_file(path) == key


def test_one_in_many_random_binary_keys_is_not_shortened(tmp_path):
    """About 1 in 22 random 32-byte keys starts or ends with a whitespace byte; none may lose it."""
    path = tmp_path / "key.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    whitespace_edged = 0
    for _ in range(400):
        key = os.urandom(32)
        whitespace_edged += key[:1].isspace() or key[-1:].isspace()
        path.write_bytes(key)
        assert read_secret_file(path) == key
    assert whitespace_edged > 0  # the case the old strip() broke did occur


def test_run_with_a_world_readable_his_token_exits_2_cleanly_before_connecting(edge_toml, tmp_path):
    """A bad secret file is a one-line error (exit 2), not a traceback after "online" went out:
    the broker named in the config is never contacted (nothing listens there anyway)."""
    import subprocess
    import sys
    from pathlib import Path

    token = tmp_path / "his.token"
    write_secret_file(token, os.urandom(32))
    token.chmod(0o644)
    edge_toml.write_text(edge_toml.read_text() + f'\n[his]\ntoken_file = "{token}"\n')
    repo = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "app.cli", "run", "--config", str(edge_toml)], cwd=repo,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert "readable by others" in r.stderr and "Traceback" not in r.stderr
