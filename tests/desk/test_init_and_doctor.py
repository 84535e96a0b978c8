"""The technician's tools: ``cccd-edge init`` writes a desk that ``cccd-edge doctor`` finds healthy,
and the doctor names each thing that is broken (one line each, exit 1), against a real broker."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.doctor import check_clock, doctor_main, run_checks
from app.init_config import EXAMPLE, DeskIdentity, init_desk, init_main, reader_username, render_config
from edge.config import EdgeSettings
from server.brokerfiles import reader_username as server_reader_username
from simulators.services import Mosquitto
from simulators.vcard.pki import build_test_pki

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_example_is_the_init_template_and_loads():
    assert (ROOT / "systemd" / "edge.toml.example").read_text(encoding="utf-8") == render_config(EXAMPLE)
    settings = EdgeSettings.load(ROOT / "systemd" / "edge.toml.example")
    assert settings.mqtt.username == server_reader_username("34001", "desk-1") == "34001/desk-1"
    for section in ("[mqtt]", "[outbox]", "[[qr_sources]]", "[chip]", "[screen]", "[his]"):
        assert section in render_config(EXAMPLE)


def test_the_username_rule_is_the_servers():
    for facility, reader in (("34001", "desk-1"), ("01_X", "a-b")):
        assert reader_username(facility, reader) == server_reader_username(facility, reader)


def test_init_writes_a_loadable_config_and_0600_secrets_and_never_overwrites_a_key(tmp_path, capsys):
    cfg = tmp_path / "etc"
    assert init_main(["--facility", "34001", "--reader", "desk-7", "--dir", str(cfg),
                      "--state-dir", str(tmp_path / "state"), "--broker", "mqtt://127.0.0.1:1883"]) == 0
    out = capsys.readouterr().out
    assert "NEW deployment key" in out and "his.token" in out
    for name in ("pseudonym.key", "his.token"):
        assert stat.S_IMODE((cfg / name).stat().st_mode) == 0o600
    settings = EdgeSettings.load(cfg / "edge.toml")
    assert settings.reader_id == "desk-7" and settings.mqtt.username == "34001/desk-7"
    assert len(settings.pseudonym_key()) == 32 and settings.his_token()
    key_before = (cfg / "pseudonym.key").read_bytes()
    lines = init_desk(DeskIdentity("34001", "desk-7", config_dir=cfg), force=True)
    assert (cfg / "pseudonym.key").read_bytes() == key_before
    assert any("never overwritten" in line for line in lines)


def test_init_copies_the_deployments_key_and_refuses_a_world_readable_one(tmp_path, capsys):
    shared = tmp_path / "deployment.key"
    shared.write_text(os.urandom(32).hex())
    shared.chmod(0o644)
    assert init_main(["--facility", "34001", "--reader", "d2", "--dir", str(tmp_path / "a"),
                      "--pseudonym-key", str(shared)]) == 2
    assert "readable by others" in capsys.readouterr().err
    shared.chmod(0o600)
    assert init_main(["--facility", "34001", "--reader", "d2", "--dir", str(tmp_path / "b"),
                      "--pseudonym-key", str(shared)]) == 0
    assert bytes.fromhex((tmp_path / "b" / "pseudonym.key").read_text().strip()) == bytes.fromhex(shared.read_text())


def test_init_refuses_ids_the_broker_would_refuse(tmp_path, capsys):
    assert init_main(["--facility", "34 001", "--reader", "desk/1", "--dir", str(tmp_path)]) == 2
    assert not (tmp_path / "edge.toml").exists()


@pytest.fixture
def broker():
    with Mosquitto() as mosq:
        yield mosq


def healthy_desk(tmp_path: Path, broker_url: str) -> Path:
    cfg = tmp_path / "etc"
    init_desk(DeskIdentity("34001", "desk-1", broker=broker_url, config_dir=cfg, state_dir=tmp_path / "state"))
    build_test_pki(3).write_csca_pem(cfg / "trust" / "csca.pem")
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "empty-desk.png"), np.full((720, 1280, 3), 200, np.uint8))
    text = (cfg / "edge.toml").read_text()
    text = text.replace('device = "0"', f'device = "{frames}"').replace('ca_file = ', '# ca_file = ')
    text = text.replace('username = "34001/desk-1"', '# username = "34001/desk-1"')
    text = text.replace("[chip]\nenabled = true", "[chip]\nenabled = false")
    (cfg / "edge.toml").write_text(text)
    return cfg / "edge.toml"


def lines_of(config: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in run_checks(config, timeout=3):
        out.setdefault(line.name, []).append(line.status)
    return out


def test_a_healthy_desk_passes_every_check_one_line_each(tmp_path, broker, capsys):
    config = healthy_desk(tmp_path, broker.url)
    code = doctor_main(["--config", str(config), "--timeout", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ("config", "pseudonym key", "his token", "qr camera", "broker", "outbox disk"):
        assert any(line.startswith("OK") and name in line for line in out.splitlines()), (name, out)
    assert "frames of 1280x720" in out and "connected" in out
    assert not any(line.startswith("FAIL") for line in out.splitlines())


def test_a_missing_trust_path_a_wrong_key_mode_and_an_unreachable_broker_each_fail(tmp_path, broker, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"mqtt://127.0.0.1:{s.getsockname()[1]}"
    config = healthy_desk(tmp_path, dead)
    text = config.read_text().replace("[chip]\nenabled = false", "[chip]\nenabled = true")
    text = text.replace(f'trust_paths = ["{tmp_path}/etc/trust"]', f'trust_paths = ["{tmp_path}/nowhere"]')
    config.write_text(text)
    (tmp_path / "etc" / "pseudonym.key").chmod(0o644)
    code = doctor_main(["--config", str(config), "--timeout", "3"])
    out = capsys.readouterr().out
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any("pseudonym key" in f and "chmod 600" in f for f in fails), out
    assert any("trust" in f and "nowhere" in f for f in fails), out
    assert any("broker" in f and dead in f for f in fails), out


def test_a_config_that_does_not_load_is_one_failed_line(tmp_path, capsys):
    bad = tmp_path / "edge.toml"
    bad.write_text('facility_code = "34001"\nreader_id = "d"\npseudonym_key_file = "/k"\n[screen]\nhost = "0.0.0.0"\n')
    assert doctor_main(["--config", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL config") and "beyond loopback" in out[0]


def test_wrong_broker_credentials_are_a_failure_not_a_hang(tmp_path):
    from server.brokerfiles import mosquitto_hash

    pw = tmp_path / "passwd"
    pw.write_text(f"34001/desk-9:{mosquitto_hash('not-this-desk')}\n")
    with Mosquitto(password_file=pw) as mosq:
        config = healthy_desk(tmp_path, mosq.url)
        statuses = lines_of(config)
    assert statuses["broker"] == ["FAIL"]


def test_the_clock_check_reads_timesyncd():
    assert check_clock(lambda cmd: "yes\n").status == "OK"
    assert check_clock(lambda cmd: "no\n").status == "FAIL"


def test_with_pcscd_the_doctor_names_each_reader_and_its_slot_and_counts_the_anchors(tmp_path, broker, pcscd):
    config = healthy_desk(tmp_path, broker.url)
    config.write_text(config.read_text().replace("[chip]\nenabled = false", "[chip]\nenabled = true"))
    lines = {line.name: line for line in run_checks(config, timeout=3)}
    assert lines["chip reader"].status == "OK" and "slot 0: Virtual PCD 00 00" in lines["chip reader"].detail
    assert lines["trust"].status == "OK" and lines["trust"].detail.startswith("1 CSCA")


def test_cccd_edge_help_lists_every_command_with_what_it_does(capsys):
    from app.cli import COMMANDS, main

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "check an installed desk" in out and "a new desk's config" in out
