"""Field-true reading against hostile cards and readers, in process (issue 12).

Each test names the hostile behaviour and proves the read still completes with
the card's exact bytes and the right level, within bounded extra APDUs:
refused sizes, short answers, a reader that overflows, an ATR that lies, the
session dropped at every step, the card lifted and put back mid-DG2.
"""

from __future__ import annotations

import math

import pytest

from edge.chip_reader import ChipReading, read_and_verify
from edge.icao import access
from edge.icao.errors import CardRemovedError, TransportOverflowError
from edge.icao.lds.tags import dg_fid
from edge.icao.sizing import FLOOR, ResponseSizer, SizeMemory
from edge.icao.sm import max_plain_response
from edge.trust import CheckName, TrustLevel
from simulators.vcard.card import VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from simulators.vcard.readers import PROFILES, ProfiledCard
from tests.chip_e2e.conftest import make_card

DG2 = dg_fid(2)


def _can(profile):
    return [access.key_from_can(profile.can)]


def _same_files(check, profile) -> None:
    for fid, data in profile.files.items():
        if fid in check.read.files:
            assert check.read.files[fid] == data, hex(fid)
    assert DG2 in check.read.files


@pytest.mark.parametrize("limit", [4096, 1024, 300])
def test_card_answering_6700_above_n_bytes_is_read_whole_at_the_largest_size_it_takes(genuine, trust_store, limit):
    card = make_card(genuine)
    card.refuse_above = limit
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store)
    _same_files(check, genuine)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.read.response_budget <= limit and check.read.size_history
    # DG2 in about the fewest READ BINARYs at the size learned (plus the refusals on the way down)
    plain = max_plain_response(check.read.response_budget, 16)
    minimum = 1 + math.ceil(len(check.read.files[DG2]) / plain)
    assert check.read.step_stats["DG2"]["apdus"] <= minimum + len(check.read.size_history) + 1


def test_card_refusing_6700_below_the_floor_halves_on_as_a_last_resort(genuine, trust_store):
    card = make_card(genuine)
    card.refuse_above = 150
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store, read_face=False)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.read.response_budget < FLOOR


def test_6282_short_reads_in_mid_file_carry_on_from_the_offset_reached(genuine, trust_store):
    card = make_card(genuine)
    card.short_reads = 100
    check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store)
    _same_files(check, genuine)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert not check.read.recoveries


class _SmallBuffer(InProcessTransport):
    """A reader whose buffer holds 261 response bytes: larger answers are lost after
    the card sent them (the card counted its SSC step), as a transport overflow."""

    def transmit(self, apdu: bytes) -> bytes:
        response = super().transmit(apdu)
        if len(response) > 261:
            raise TransportOverflowError(f"{len(response)} bytes do not fit the 261-byte buffer")
        return response


def test_reader_overflowing_on_dg2_shrinks_and_keeps_the_session(genuine, trust_store):
    # It passes the small probe (EF.CardAccess), then overflows on the first big file.
    check = read_and_verify(_SmallBuffer(make_card(genuine), extended_length=True), _can(genuine),
                            trust_store=trust_store)
    _same_files(check, genuine)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert not check.read.recoveries  # the lost SSC step was counted: no re-authentication
    assert any("overflow" in h for h in check.read.size_history)


def test_lying_atr_costs_one_refused_apdu_then_short_apdus(genuine, trust_store):
    card = ProfiledCard(make_card(genuine), PROFILES["lying-atr"])
    check = read_and_verify(InProcessTransport(card, extended_length=True), _can(genuine), trust_store=trust_store)
    assert check.read.access_method == "PACE-CAN"  # EF.CardAccess read, PACE seen
    assert check.read.size_history == ["65536 -> 256: 6700 to READ BINARY Le=65536"]
    assert check.read.step_stats["card_access"]["apdus"] == 3
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_lying_atr_on_a_bac_card_keeps_the_send_sequence_counters_in_step(genuine, trust_store):
    card = VirtualCard(genuine.files, genuine.can, genuine.mrz_information, card_access=None,
                       chip_auth_private_key=genuine.chip_auth_private_key, aa_private_key=genuine.aa_private_key)
    reader = ProfiledCard(card, PROFILES["lying-atr"])
    check = read_and_verify(InProcessTransport(reader, extended_length=True),
                            [k for k in access.keys_from_mrz(genuine.mrz.splitlines()) if k.kind == "mrz"],
                            trust_store=trust_store)
    assert check.read.access_method == "BAC"
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    _same_files(check, genuine)


def test_a_sizer_remembered_per_reader_starts_the_next_card_right(genuine, trust_store):
    memory = SizeMemory()
    sizes = []
    for _ in range(2):
        sizer = memory.for_reader("ACS ACR122U PICC 00 00", extended_hint=True)
        card = ProfiledCard(make_card(genuine), PROFILES["lying-atr"])
        check = read_and_verify(InProcessTransport(card, extended_length=True), _can(genuine),
                                trust_store=trust_store, sizer=sizer, read_face=False)
        sizes.append((check.read.step_stats["card_access"]["apdus"], check.read.response_budget))
    assert sizes == [(3, 256), (2, 256)]  # the second card wastes no refused APDU


def test_configured_max_response_is_the_starting_size(genuine, trust_store):
    check = read_and_verify(InProcessTransport(make_card(genuine)), _can(genuine), trust_store=trust_store,
                            max_response=1024)
    assert check.read.response_budget == 1024
    per_read = max_plain_response(1024, 16)
    assert check.read.step_stats["DG2"]["apdus"] == 1 + math.ceil(len(genuine.files[DG2]) / per_read)


# ------------------------------------------------------------------ sessions dropped at every step
class _DropAt(InProcessTransport):
    """Drops the card's session (or, during PACE, the card's power) just before APDU n."""

    def __init__(self, card: VirtualCard, at: int, extended: bool = True) -> None:
        super().__init__(card, extended_length=extended)
        self.at, self.count = at, 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        if self.count == self.at:
            self.card.reset()  # a field glitch: no session, no PACE in progress
        return super().transmit(apdu)


def _step_starts(check) -> dict[str, int]:
    """The number of the first APDU of each step of a clean reading."""
    starts, n = {}, 0
    for step, stats in check.read.step_stats.items():
        starts[step] = n + 1
        n += stats["apdus"]
    return starts


@pytest.mark.parametrize(("step", "offset"), [
    ("access", 2),  # mid-PACE: the second GENERAL AUTHENTICATE
    ("DG1", 1),
    ("DG2", 40),  # mid-file on a short reader: DG2 takes ~90 READ BINARYs
    ("EF.SOD", 1),
    ("chip_authentication", 1),  # MSE:Set AT
    ("chip_authentication", 3),  # the proof read under the new keys
    ("active_authentication", 0),
])
def test_session_dropped_at_each_step_is_recovered_once_and_the_level_holds(genuine, trust_store, step, offset):
    clean = read_and_verify(InProcessTransport(make_card(genuine), extended_length=False), _can(genuine),
                            trust_store=trust_store)
    at = _step_starts(clean)[step] + offset
    transport = _DropAt(make_card(genuine), at, extended=False)
    check = read_and_verify(transport, _can(genuine), trust_store=trust_store)
    assert [r.step for r in check.read.recoveries] == [step]
    _same_files(check, genuine)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.clone_checked_by is CheckName.CHIP_AUTHENTICATION
    # Files already read are never read again; an interrupted file resumes at its offset.
    for name in ("DG1", "DG13", "EF.SOD"):
        assert check.read.step_stats[name]["apdus"] <= clean.read.step_stats[name]["apdus"] + 2  # failed + re-SELECT
    assert check.read.step_stats["DG2"]["apdus"] <= clean.read.step_stats["DG2"]["apdus"] + 2


def test_a_clone_still_fails_ca_after_the_retry_on_a_fresh_session(cloned, trust_store):
    check = read_and_verify(InProcessTransport(make_card(cloned)), _can(cloned), trust_store=trust_store,
                            read_face=False)
    assert check.trust.check(CheckName.CHIP_AUTHENTICATION).codes == ["ca_failed"]
    assert check.trust.check(CheckName.ACTIVE_AUTHENTICATION).codes == ["aa_failed"]
    assert check.level is TrustLevel.INVALID
    assert [r.step for r in check.read.recoveries] == ["chip_authentication", "active_authentication"]


def test_card_dropping_the_session_on_every_command_stops_after_bounded_recoveries(genuine, trust_store):
    from edge.icao.errors import SecureMessagingError

    class AlwaysDrops(InProcessTransport):
        def transmit(self, apdu: bytes) -> bytes:
            if apdu[0] & 0x0C == 0x0C and apdu[1] == 0xB0:
                self.card.drop_session()
            return super().transmit(apdu)

    session_holder = ChipReading(_can(genuine), trust_store=trust_store)
    with pytest.raises(SecureMessagingError):
        session_holder.run(AlwaysDrops(make_card(genuine)))
    assert session_holder.session is not None and len(session_holder.session.result.recoveries) == 3


def test_flaky_profile_recovers_wherever_the_drop_falls(genuine, trust_store):
    steps = set()
    for seed in range(12):
        card = ProfiledCard(make_card(genuine), PROFILES["flaky"], seed=seed)
        check = read_and_verify(InProcessTransport(card), _can(genuine), trust_store=trust_store)
        assert card.drops == 1
        assert len(check.read.recoveries) == 1
        assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED, seed
        _same_files(check, genuine)
        steps.add(check.read.recoveries[0].step)
    assert len(steps) >= 3  # the drop fell on several different steps


# ------------------------------------------------------------------ lifted and put back
class _LiftedAt(InProcessTransport):
    def __init__(self, card: VirtualCard, at: int) -> None:
        super().__init__(card, extended_length=False)
        self.at, self.count = at, 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        if self.count == self.at:
            self.remove()
        return super().transmit(apdu)


def test_card_pulled_mid_dg2_and_put_back_resumes_the_same_read(genuine, trust_store):
    clean = read_and_verify(InProcessTransport(make_card(genuine), extended_length=False), _can(genuine),
                            trust_store=trust_store)
    transport = _LiftedAt(make_card(genuine), _step_starts(clean)["DG2"] + 30)
    reading = ChipReading(_can(genuine), trust_store=trust_store)
    with pytest.raises(CardRemovedError):
        reading.run(transport)
    assert reading.session is not None and dg_fid(1) in reading.session.result.files
    transport.insert()  # put back: powered up again, no session
    check = reading.run(transport)
    _same_files(check, genuine)
    assert check.read.resumes == 1 and not check.read.recoveries
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert check.read.step_stats["DG1"]["apdus"] == clean.read.step_stats["DG1"]["apdus"]  # not read again
    assert check.read.step_stats["DG2"]["apdus"] <= clean.read.step_stats["DG2"]["apdus"] + 2


def test_sizer_unit_rules():
    s = ResponseSizer.start(extended_hint=True)
    assert s.limit == 65536 and s.shrink("6700", extended_command=True) and s.limit == 256
    s = ResponseSizer.start(extended_hint=True)
    s.worked(extended_command=True)
    assert s.shrink("6700", extended_command=True) and s.limit == 32768  # extended works: halve
    s = ResponseSizer.start()
    assert s.limit == 256 and s.shrink("6700", False) and s.limit == 128
    assert s.plain_length(None) == 128
    while s.shrink("6700", False):
        pass
    assert s.limit == 64 and not s.shrink("6700", False)


def test_a_reader_dropping_answers_above_its_frame_under_sm_shrinks_without_losing_the_session(genuine, trust_store):
    # Tighter than a PN532: the card answers, the reader cannot carry 244 + 2 bytes and says 6700
    # in plain. Both sides counted the exchange, so the session goes on at a smaller size.
    from simulators.vcard.readers import ReaderProfile

    tight = ReaderProfile("tight", extended=False, max_response_total=200)
    card = ProfiledCard(make_card(genuine), tight)
    check = read_and_verify(InProcessTransport(card, extended_length=False), _can(genuine), trust_store=trust_store)
    _same_files(check, genuine)
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert not check.read.recoveries
    assert check.read.response_budget < 200 and check.read.size_history


def test_pn532_with_a_configured_size_above_what_it_carries_drops_to_short_apdus(genuine, trust_store):
    card = ProfiledCard(make_card(genuine), PROFILES["pn532"])
    check = read_and_verify(InProcessTransport(card, extended_length=False), _can(genuine), trust_store=trust_store,
                            max_response=4096)
    _same_files(check, genuine)
    assert check.read.response_budget == 256 and len(check.read.size_history) == 1
    assert check.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
