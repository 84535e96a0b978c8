"""The chip path through the real stack: pcscd + vpcd + pyscard (PcscTransport)
-> edge.chip_reader.read_and_verify -> edge.trust, against the virtual CCCD.

Needs root, /usr/sbin/pcscd and vsmartcard-vpcd; one pcscd for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("smartcard")

from edge.chip_reader import read_and_verify
from edge.domain.qr import parse_qr
from edge.domain.validity import expiry_candidates
from edge.icao import access
from edge.icao.errors import CardRemovedError
from edge.trust import CheckName, CheckStatus, TrustLevel
from reader_drivers.pcsc import PcscTransport
from simulators.services_pcsc import VPCD_READER_0
from tests.chip_e2e.conftest import make_card, served

pytestmark = pytest.mark.services
REPO = Path(__file__).resolve().parents[2]




def _qr_keys(citizen):
    rec = parse_qr(citizen.qr_payload())
    return access.keys_from_qr(rec.id_number, rec.date_of_birth, expiry_candidates(rec.date_of_birth, rec.issue_date))


def _read(profile, keys, trust_store, **kw):
    with served(make_card(profile)), PcscTransport(VPCD_READER_0, timeout=10.0) as t:
        return read_and_verify(t, keys, trust_store=trust_store, **kw)


@pytest.mark.parametrize("key_kind", ["qr", "qr_mrz_only", "can", "typed_mrz"])
def test_full_read_through_pcscd_with_each_kind_of_key(pcscd, genuine, citizen, trust_store, key_kind):
    if key_kind == "qr":
        keys = _qr_keys(citizen)  # the CAN from the ID number first
    elif key_kind == "qr_mrz_only":
        # The MRZ keys the QR gives (expiry computed by the age rule): prove they open the chip too.
        keys = [k for k in _qr_keys(citizen) if k.kind == "mrz"]
    elif key_kind == "can":
        keys = [access.key_from_can(genuine.can)]
    else:
        keys = access.keys_from_mrz(genuine.mrz.splitlines())  # the three typed lines
        keys = [k for k in keys if k.kind == "mrz"]  # prove the MRZ key alone opens the chip
    check = _read(genuine, keys, trust_store)
    read = check.read
    assert read.access_method == ("PACE-CAN" if key_kind in ("qr", "can") else "PACE-MRZ")
    for fid in (0x011E, 0x0101, 0x0102, 0x010D, 0x010E, 0x010F, 0x011D):
        assert read.files[fid] == genuine.files[fid], hex(fid)
    assert not read.parse_errors
    assert check.identity is not None and check.identity.id_number == citizen.id_number
    assert check.face_mime == "image/jpeg" and check.face_image
    assert read.apdu_count > 0 and read.bytes_received > sum(len(b) for b in read.files.values())


def test_genuine_card_passes_passive_chip_and_active_authentication(pcscd, genuine, citizen, trust_store):
    check = _read(genuine, _qr_keys(citizen), trust_store, qr=parse_qr(citizen.qr_payload()))
    trust = check.trust
    for name in (CheckName.DATA_GROUP_HASHES, CheckName.SIGNATURE, CheckName.CHAIN, CheckName.VALIDITY,
                 CheckName.CHIP_AUTHENTICATION, CheckName.ACTIVE_AUTHENTICATION, CheckName.CROSSCHECK):
        assert trust.check(name).status is CheckStatus.PASSED, (name, trust.check(name).codes)
    assert trust.check(CheckName.DATA_GROUP_HASHES).details["data_groups"] == {
        "1": "match", "2": "match", "13": "match", "14": "match", "15": "match"}
    assert "new keys" in trust.check(CheckName.CHIP_AUTHENTICATION).reason.detail
    assert trust.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_dg13_altered_after_signing_is_invalid_with_dg_hash_mismatch(pcscd, tampered, trust_store):
    check = _read(tampered, [access.key_from_can(tampered.can)], trust_store)
    dgh = check.trust.check(CheckName.DATA_GROUP_HASHES)
    assert dgh.status is CheckStatus.FAILED and dgh.codes == ["dg_hash_mismatch"]
    assert dgh.details["data_groups"]["13"] == "mismatch"
    assert check.trust.check(CheckName.SIGNATURE).status is CheckStatus.PASSED  # EF.SOD itself is genuine
    assert check.trust.level is TrustLevel.INVALID


def test_cloned_chip_fails_chip_and_active_authentication_and_is_invalid(pcscd, cloned, trust_store):
    # Same files (EF.SOD verifies), other private keys: CA's proof read fails,
    # the AA signature does not verify under DG15. decide_level: a failed CA/AA -> invalid.
    check = _read(cloned, [access.key_from_can(cloned.can)], trust_store)
    trust = check.trust
    assert trust.check(CheckName.DATA_GROUP_HASHES).status is CheckStatus.PASSED
    assert trust.check(CheckName.CHAIN).status is CheckStatus.PASSED
    assert trust.check(CheckName.CHIP_AUTHENTICATION).codes == ["ca_failed"]
    assert trust.check(CheckName.ACTIVE_AUTHENTICATION).codes == ["aa_failed"]
    assert trust.level is TrustLevel.INVALID


def test_citizens_own_qr_passes_the_crosscheck(pcscd, genuine, citizen, trust_store):
    check = _read(genuine, [access.key_from_can(genuine.can)], trust_store, qr=parse_qr(citizen.qr_payload()),
                  read_face=False, clone_check=False)
    assert check.trust.check(CheckName.CROSSCHECK).codes == ["crosscheck_match"]
    assert 0x0102 not in check.read.files and check.face_image is None
    assert check.trust.level is TrustLevel.CHIP_VERIFIED  # no clone check asked for


def test_another_citizens_qr_on_this_chip_gives_one_mismatch_per_field(pcscd, genuine, other_citizen, trust_store):
    check = _read(genuine, [access.key_from_can(genuine.can)], trust_store,
                  qr=parse_qr(other_citizen.qr_payload()), read_face=False)
    cc = check.trust.check(CheckName.CROSSCHECK)
    assert cc.status is CheckStatus.FAILED
    assert cc.codes == ["id_number_mismatch", "name_mismatch", "date_of_birth_mismatch", "sex_mismatch"]
    assert check.trust.level is TrustLevel.INVALID


class _PulledMidRead:
    """The genuine card, pulled off the reader at its n-th APDU (after access, while files are read)."""

    def __init__(self, card, at_apdu: int) -> None:
        self.card, self.at_apdu, self.count = card, at_apdu, 0
        self.link = None
        self.pulled = threading.Event()

    def __getattr__(self, name):
        return getattr(self.card, name)

    def atr(self) -> bytes:
        return self.card.atr()

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        if self.count == self.at_apdu and self.link is not None:
            self.pulled.set()
            self.link.remove()  # the answer never reaches pcscd
        return self.card.transmit(apdu)


def test_card_pulled_mid_read_raises_card_removed_error(pcscd, genuine, trust_store):
    card = _PulledMidRead(make_card(genuine), at_apdu=14)
    with served(card) as link:
        card.link = link
        with PcscTransport(VPCD_READER_0, timeout=10.0) as t, pytest.raises(CardRemovedError):
            read_and_verify(t, [access.key_from_can(genuine.can)], trust_store=trust_store)
    assert card.pulled.is_set()


def test_read_chip_cli_prints_the_reading_as_json(pcscd, genuine, citizen, csca_pem):
    with served(make_card(genuine)):
        r = subprocess.run(
            [sys.executable, "-m", "app.cli", "read-chip", "--reader", VPCD_READER_0,
             "--qr", citizen.qr_payload(), "--trust", str(csca_pem)],
            cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["access"]["method"] == "PACE-CAN"
    assert out["dg13"]["id_number"] == citizen.id_number and out["dg13"]["full_name"] == citizen.full_name
    assert out["dg1"]["personal_id"] == citizen.id_number
    assert out["face"]["type"] == "jpeg" and out["face"]["bytes"] > 1000
    assert "data" not in out["face"] and len(r.stdout) < out["face"]["bytes"]  # never the image itself
    assert out["apdu"]["count"] > 0 and out["apdu"]["bytes_received"] > 0
    assert {"access", "DG2", "chip_authentication", "total"} <= set(out["timings_ms"])
    assert out["trust"]["level"] == "chip_verified_clone_checked"
    assert out["trust"]["checks"]["crosscheck"]["status"] == "passed"
    assert all("reasons" in c for c in out["trust"]["checks"].values())


def test_read_chip_cli_with_a_wrong_can_exits_1_with_a_json_error(pcscd, genuine):
    with served(make_card(genuine)):
        r = subprocess.run(
            [sys.executable, "-m", "app.cli", "read-chip", "--reader", VPCD_READER_0, "--can", "000000", "--no-face"],
            cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    assert r.returncode == 1, r.stdout + r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "access_denied"


def test_chip_read_benchmark_runs_once_through_pcscd_and_in_process(pcscd):
    # Proves the benchmark works (one iteration); never asserts times.
    from tests.chip_e2e.conftest import load_benchmark

    bench = load_benchmark("chip_read")
    lines: list[str] = []
    results = bench.run(iterations=1, service=pcscd, out=lines.append)
    assert set(results) == {"with DG2", "without DG2"}
    with_face, without = results["with DG2"]["pcscd"], results["without DG2"]["pcscd"]
    assert "DG2" in with_face and "DG2" not in without
    assert with_face["DG2"]["apdus"] >= 2 and with_face["chip_authentication"]["apdus"] == 4
    assert any(line.startswith("total") for line in lines)


def _read_chip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "read-chip", *args],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_read_chip_lists_the_readers_with_their_kind(pcscd):
    r = _read_chip("--list-readers")
    assert r.returncode == 0, r.stderr + r.stdout
    readers = json.loads(r.stdout)["readers"]
    assert {"name": VPCD_READER_0, "kind": "contactless"} in readers


def test_read_chip_picks_the_contactless_reader_by_itself_and_honours_max_response(pcscd, genuine, csca_pem):
    with served(make_card(genuine)):
        r = _read_chip("--can", genuine.can, "--trust", str(csca_pem), "--max-response", "512", "--reader", "pcd 00 00")
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["reader"] == VPCD_READER_0  # chosen by a case-insensitive pattern
    assert out["apdu"]["response_budget"] == 512
    assert out["recoveries"] == [] and out["resumes"] == 0
    assert out["clone_checks"]["chip_authentication"]["status"] == "verified"
    assert out["trust"]["clone_checked_by"] == "chip_authentication"
    assert out["trust"]["level"] == "chip_verified_clone_checked"
