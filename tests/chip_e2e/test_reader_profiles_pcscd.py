"""A full read with DG2 through every reader profile, served through the real
pcscd + vpcd + pyscard (issue 12): the PC/SC driver's own extended-length
decision (ATR, probe) is only a hint the reading corrects.

Needs root, /usr/sbin/pcscd and vsmartcard-vpcd; one pcscd for the module.
"""

from __future__ import annotations

import pytest

pytest.importorskip("smartcard")

from edge.chip_reader import read_and_verify
from edge.icao import access
from edge.trust import CheckName, TrustLevel
from reader_drivers.pcsc import PcscTransport
from simulators.services_pcsc import VPCD_READER_0
from simulators.vcard.readers import PROFILES, ProfiledCard
from tests.chip_e2e.conftest import load_benchmark, make_card, served

pytestmark = pytest.mark.services


def _bench():
    return load_benchmark("chip_read")


@pytest.mark.parametrize("name", ["extended", "short", "pn532", "lying-atr", "flaky"])
def test_full_read_with_dg2_through_pcscd_on_each_reader_profile(pcscd, genuine, trust_store, name):
    card = ProfiledCard(make_card(genuine), PROFILES[name], seed=3)
    with served(card), PcscTransport(VPCD_READER_0, timeout=10.0) as t:
        if name == "lying-atr":
            assert t.extended_length  # the driver believed the ATR
        check = read_and_verify(t, [access.key_from_can(genuine.can)], trust_store=trust_store)
    read = check.read
    for fid, data in genuine.files.items():
        assert (read.card_access if fid == 0x011C else read.files[fid]) == data, hex(fid)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.clone_checked_by is CheckName.CHIP_AUTHENTICATION
    minimum = _bench().minimum_apdus(check)
    if name == "flaky":
        assert card.drops == 1 and len(read.recoveries) == 1
        assert read.apdu_count <= minimum + 9  # the failed command, the re-authentication (7), the re-SELECT
    else:
        assert not read.recoveries
        assert read.apdu_count <= minimum + (1 if name == "lying-atr" else 0)
    if name in ("short", "pn532", "lying-atr"):
        assert read.response_budget == 256 and read.apdu_count > 100  # short APDUs: DG2 in ~90 reads
    else:
        assert read.response_budget == 65536 and read.apdu_count < 40


def test_chip_read_benchmark_runs_every_reader_profile_once(pcscd):
    lines: list[str] = []
    results = _bench().run_profiles(iterations=1, service=pcscd, out=lines.append)
    assert set(results) == {"extended", "short", "pn532", "lying-atr", "flaky"}
    assert all(r["level"] == "chip_verified_clone_checked" for r in results.values())
    assert results["flaky"]["recoveries"] >= 1
    assert any(line.startswith("lying-atr") for line in lines)


class _PullOnce:
    """A card object that is pulled off the reader at its n-th APDU (the answer never arrives)."""

    def __init__(self, card, at_apdu: int) -> None:
        self.card, self.at_apdu, self.count, self.link = card, at_apdu, 0, None

    def atr(self) -> bytes:
        return self.card.atr()

    def reset(self) -> None:
        self.card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        if self.count == self.at_apdu and self.link is not None:
            self.link.remove()
        return self.card.transmit(apdu)


def test_card_pulled_mid_dg2_and_put_back_resumes_the_same_read_through_pcscd(pcscd, genuine, trust_store):
    from edge.chip_reader import ChipReading
    from edge.icao.errors import CardRemovedError
    from tests.chip_e2e.conftest import wait_reader

    # Short APDUs: DG2 takes ~90 READ BINARYs. The driver's probe (2), EF.CardAccess (2), PACE (6),
    # EF.COM (2), DG1 (2): APDU 44 is the 30th of DG2.
    card = _PullOnce(ProfiledCard(make_card(genuine), PROFILES["short"]), at_apdu=44)
    reading = ChipReading([access.key_from_can(genuine.can)], trust_store=trust_store)
    with served(card) as link:
        card.link = link
        with PcscTransport(VPCD_READER_0, timeout=10.0) as t, pytest.raises(CardRemovedError):
            reading.run(t)
        assert reading.session is not None and 0x0101 in reading.session.result.files  # DG1 kept
        wait_reader(VPCD_READER_0, present=False)
        link.insert()  # put back within the visit
        wait_reader(VPCD_READER_0, present=True)
        with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
            check = reading.run(t)
    read = check.read
    assert read.resumes == 1 and not read.recoveries
    for fid in (0x0101, 0x0102, 0x010D, 0x011D):
        assert read.files[fid] == genuine.files[fid]
    assert read.step_stats["DG1"]["apdus"] == 2  # read once, before the card was pulled
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_card_reset_by_another_application_mid_read_is_recovered(pcscd, genuine, trust_store):
    from edge.icao.session import ChipSession

    with served(make_card(genuine)), PcscTransport(VPCD_READER_0, timeout=10.0) as t:
        session = ChipSession(t)
        session.authenticate([access.key_from_can(genuine.can)])
        session.read_files([0x011E, 0x0101])
        other = PcscTransport(VPCD_READER_0, timeout=10.0, probe_extended=False)
        other.close(reset=True)  # the card is power-cycled under our session
        session.read_files([0x0102, 0x010D, 0x011D])
        assert t.resets == 1
    result = session.result
    assert [r.step for r in result.recoveries] == ["DG2"]
    for fid in (0x0101, 0x0102, 0x010D, 0x011D):
        assert result.files[fid] == genuine.files[fid]


def test_the_agents_chip_input_resumes_a_read_when_the_card_comes_back_within_the_visit(
        pcscd, genuine, trust_store, csca_pem):
    from app.chip_input import ChipInput
    from edge.config import ChipSettings
    from edge.icao.errors import CardRemovedError
    from tests.chip_e2e.conftest import wait_reader

    chip = ChipInput(ChipSettings(trust_paths=[csca_pem]), lambda event: None)
    chip.reader_name = VPCD_READER_0
    keys = [access.key_from_can(genuine.can)]
    card = _PullOnce(ProfiledCard(make_card(genuine), PROFILES["short"]), at_apdu=44)
    with served(card) as link:
        card.link = link
        with pytest.raises(CardRemovedError):
            chip.read(keys, None)
        wait_reader(VPCD_READER_0, present=False)
        link.insert()
        wait_reader(VPCD_READER_0, present=True)
        check = chip.read(keys, None)
    assert check.read.resumes == 1 and check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.read.step_stats["DG1"]["apdus"] == 2


def test_terminal_cpu_benchmark_runs_once(pcscd):
    lines: list[str] = []
    results = _bench().terminal_cpu(iterations=1, service=pcscd, out=lines.append)
    assert set(results) == {"before (Python ints)", "after (fastecdsa)"}  # never asserts times
