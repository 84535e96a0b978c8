"""The suite's own rules hold: under CI a skip fails with its reason (hardware excepted), the
summary names what did not run, a run that changes the checkout fails, the test broker runs
the shipped broker settings, and the tests' pcscd is private (loopback only, beside others)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.services import SHIPPED_BROKER_CONFIG, Mosquitto, free_port, shipped_broker_settings
from simulators.services_pcsc import VPCD_READER_0
from tests import suite_rules
from tests.suite_rules import HARDWARE_SKIPS

SKIPPING_TESTS = '''
import pytest

def test_needs_a_service():
    pytest.skip("mosquitto is not installed")

@pytest.mark.skipif(True, reason="/dev/uinput not available here")
def test_needs_hardware():
    pass

def test_plain():
    pass
'''


def test_under_ci_a_skip_fails_with_its_reason_and_only_hardware_may_skip(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(SKIPPING_TESTS)
    result = pytester.runpytest("-p", "tests.suite_rules")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*CI is set, so this skip is a failure: mosquitto is not installed*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_under_ci_a_module_level_skip_fails_the_collection(pytester, monkeypatch):
    monkeypatch.setenv("CI", "1")
    pytester.makepyfile("import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_x():\n    pass\n")
    result = pytester.runpytest("-p", "tests.suite_rules")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*CI is set, so this skip is a failure*no_such_module_here*"])


def test_outside_ci_skips_stay_skips_and_the_summary_lists_them_loudly(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(SKIPPING_TESTS)
    result = pytester.runpytest("-p", "tests.suite_rules")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*2 TESTS DID NOT RUN (skipped)*",
                                 "*1 x ?MISSING? mosquitto is not installed*",
                                 "*1 x ?hardware? /dev/uinput not available here*"])
    assert result.ret == pytest.ExitCode.OK


PART_NOT_RUN = '''
from tests.suite_rules import part_not_run

def test_with_a_browser_part():
    part_not_run("browser part: no chromium here")
'''


def test_a_test_part_not_run_fails_under_ci_and_is_listed_elsewhere(pytester, monkeypatch):
    monkeypatch.setattr(suite_rules, "PARTS_NOT_RUN", [])  # the inner runs share this process
    pytester.makepyfile(PART_NOT_RUN)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "tests.suite_rules")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CI is set and part of this test cannot run: browser part: no chromium here*"])
    monkeypatch.delenv("CI")
    result = pytester.runpytest("-p", "tests.suite_rules")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*TEST PART(S) DID NOT RUN*", "*test_with_a_browser_part*no chromium here*"])


def test_ci_false_is_not_ci(pytester, monkeypatch):
    monkeypatch.setenv("CI", "false")
    pytester.makepyfile(SKIPPING_TESTS)
    pytester.runpytest("-p", "tests.suite_rules").assert_outcomes(passed=1, skipped=2)


def test_hardware_skips_are_named_in_one_place():
    assert list(HARDWARE_SKIPS) == ["/dev/uinput", "no /dev/fuse"]


def _git(path: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)


@pytest.mark.parametrize("change", ["modify_tracked", "new_unignored_file"])
def test_a_run_that_changes_the_checkout_fails(pytester, monkeypatch, change):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CCCD_REFRESH_SCREENSHOTS", raising=False)
    pytester.makefile(".txt", tracked="as committed\n")
    (pytester.path / ".gitignore").write_text("ignored/\n__pycache__/\n")
    pytester.makepyfile(test_writes=f'''
from pathlib import Path

def test_writes():
    here = Path(__file__).parent
    if {change!r} == "modify_tracked":
        (here / "tracked.txt").write_text("rewritten by a test\\n")
    else:
        (here / "left_behind.png").write_bytes(b"png")
    (here / "ignored").mkdir(exist_ok=True)
    (here / "ignored" / "fine.log").write_text("ignored output is fine")
''')
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "init")
    result = pytester.runpytest("-p", "tests.suite_rules", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    changed = "tracked.txt" if change == "modify_tracked" else "left_behind.png"
    result.stdout.fnmatch_lines(["*THE CHECKOUT CHANGED DURING THE RUN*", f"*{changed}*"])
    assert "fine.log" not in result.stdout.str()


def test_a_run_that_leaves_the_checkout_alone_passes(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    (pytester.path / ".gitignore").write_text("__pycache__/\n")
    pytester.makepyfile(test_clean="def test_clean(tmp_path):\n    (tmp_path / 'out.png').write_bytes(b'x')\n")
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "init")
    result = pytester.runpytest("-p", "tests.suite_rules", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert "CHECKOUT CHANGED" not in result.stdout.str()


def test_free_ports_come_from_below_the_ephemeral_range_that_outgoing_connections_use():
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(50)]
    if low >= 11000:  # room below it (Linux's default range starts at 32768)
        assert all(10000 <= port < low for port in ports), (low, ports)
    assert len(set(ports)) > 40  # drawn at random, not one sequence shared by every run


# ------------------------------------------------------------------ the shipped broker configuration
def test_the_test_broker_runs_the_shipped_broker_wide_settings():
    shipped = dict(shipped_broker_settings())
    # The template's durability settings, read from the file (fails if the template loses them).
    assert {"persistence", "autosave_interval", "max_queued_messages", "max_inflight_messages"} <= shipped.keys()
    with Mosquitto() as broker:
        conf = (broker.workdir / "mosquitto.conf").read_text().splitlines()
        for key, value in shipped.items():
            expected = f"{broker.workdir}/" if key == "persistence_location" else value
            assert f"{key} {expected}" in conf, (key, SHIPPED_BROKER_CONFIG)
        assert broker.proc is not None and broker.proc.poll() is None


def test_the_test_broker_serves_the_shipped_tls_listener_with_the_tests_certificates(tmp_path):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from simulators.tls import make_device_pki

    pki = make_device_pki(tmp_path / "pki")  # under pytest's private tmp dir: the broker copies them
    with Mosquitto(tls=pki) as broker:
        conf = (broker.workdir / "mosquitto.conf").read_text()
        assert "tls_version tlsv1.2" in conf and f"certfile {broker.workdir}/tls-server.crt" in conf
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-check", protocol=mqtt.MQTTv5)
        client.tls_set(ca_certs=str(pki.ca_cert))
        assert client.connect("127.0.0.1", broker.tls_port) == mqtt.MQTT_ERR_SUCCESS
        client.loop_start()
        try:
            info = client.publish("cccd/v1/34001/desk-1/checkin", b"{}", qos=1)
            info.wait_for_publish(10)
            assert info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()


# ------------------------------------------------------------------ the private pcscd
def _listening(port: int) -> list[str]:
    """The local addresses with a TCP socket listening on ``port`` (this network namespace)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.append(address)
    return found


LIST_READERS = ("import json; from simulators.services_pcsc import list_readers_once;"
                "print(json.dumps(list_readers_once()))")
HOLD_A_PCSCD = ("import json, sys; from simulators.services_pcsc import PcscdService;"
                "svc = PcscdService().start(); print(json.dumps(svc.sandbox.environment()), flush=True);"
                "sys.stdin.read(); svc.close(); svc.sandbox.remove()")
SANDBOX_VARIABLES = ("CCCD_PCSC_SANDBOX", "CCCD_VPCD_PORT", "PCSCLITE_CSOCK_NAME")


def _readers(env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", LIST_READERS], env=env, capture_output=True, check=True, timeout=30)
    return list(json.loads(out.stdout) or [])


def test_the_private_pcscd_takes_cards_on_loopback_only_and_runs_beside_another(pcscd):
    for port in pcscd.ports:
        assert _listening(port) == ["0100007F"], port  # 127.0.0.1, nothing else
    assert pcscd.sandbox.socket_path.is_socket()
    # A second private pcscd (another run's) at the same time, in a child with its own sandbox.
    env = {k: v for k, v in os.environ.items() if k not in SANDBOX_VARIABLES}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_PCSCD], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        other = json.loads(holder.stdout.readline() or "null")
        assert other, holder.stderr.read() if holder.stderr else ""
        assert other["PCSCLITE_CSOCK_NAME"] != str(pcscd.sandbox.socket_path)
        assert int(other["CCCD_VPCD_PORT"]) not in pcscd.ports
        assert VPCD_READER_0 in _readers(env | other)  # each client sees its own daemon
        assert VPCD_READER_0 in _readers(dict(os.environ))
        assert set(_listening(int(other["CCCD_VPCD_PORT"]))) == {"0100007F"}
    finally:
        holder.communicate(b"", timeout=30)
    assert holder.returncode == 0
    assert VPCD_READER_0 in _readers(dict(os.environ))  # ours was not disturbed


def test_the_card_ports_stay_taken_between_two_pcscd_starts(pcscd):
    pcscd.stop()
    try:
        for port in pcscd.ports:  # another run cannot bind them while ours is down
            with socket.socket() as intruder:
                intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                with pytest.raises(OSError):
                    intruder.bind(("127.0.0.1", port))
    finally:
        pcscd.start()
    assert VPCD_READER_0 in _readers(dict(os.environ))
