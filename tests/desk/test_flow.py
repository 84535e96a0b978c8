"""The visit at the desk: QR, chip, or both, and always exactly one check-in per visit."""

from __future__ import annotations

import os

import pytest

from edge.checkin import CheckInService
from edge.desk.flow import DeskFlow
from edge.desk.hub import DeskHub
from edge.icao.errors import CardRemovedError
from edge.icao.session import AccessDeniedError
from edge.outbox import Outbox
from edge.trust.crosscheck import IdentityFields
from edge.trust.levels import TrustLevel
from simulators.population import Population
from tests.desk.chips import chip_check

CITIZEN = Population(11).citizen(3)
OTHER = Population(11).citizen(4)


def identity(citizen) -> IdentityFields:
    return IdentityFields(citizen.id_number, citizen.full_name, citizen.date_of_birth, citizen.sex)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeChip:
    """A chip reader that records the keys it was asked with and answers with a real ChipCheck."""

    def __init__(self, answer=None, error: Exception | None = None) -> None:
        self.calls: list[tuple[list, object]] = []
        self.answer = answer or chip_check(TrustLevel.CHIP_VERIFIED_CLONE_CHECKED, identity(CITIZEN))
        self.error = error

    def __call__(self, keys, qr):
        self.calls.append((list(keys), qr))
        if self.error:
            raise self.error
        return self.answer


@pytest.fixture
def outbox(tmp_path):
    return Outbox(tmp_path / "o.sqlite")


def make_flow(outbox, chip=None, clock=None, **kw):
    service = CheckInService("34001", "desk-1", os.urandom(32), outbox)
    return DeskFlow(service, DeskHub(clear_after_seconds=0), chip_reader=chip, clock=clock or Clock(), **kw)


def events(outbox):
    import json

    return [json.loads(i.payload) for i in outbox.pending(100)]


def qr(citizen=CITIZEN) -> bytes:
    return citizen.qr_payload().encode()


def test_qr_then_card_on_the_reader_is_one_checkin_with_the_chips_trust_level(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    flow.on_qr(qr())
    assert events(outbox) == []  # waiting for the card on the reader
    flow.on_card_inserted()
    (ev,) = events(outbox)
    assert ev["method"] == "qr+chip" and ev["trust_level"] == "chip_verified_clone_checked"
    keys, record = chip.calls[0]
    assert keys[0].kind == "can" and record.id_number == CITIZEN.id_number
    view = flow.hub.current()
    assert view.trust_level == TrustLevel.CHIP_VERIFIED_CLONE_CHECKED and view.has_photo
    assert flow.hub.photo(view.visit_id)[0] == b"\xff\xd8face"


def test_card_already_on_the_reader_is_read_as_soon_as_the_qr_arrives(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    flow.on_card_inserted()
    assert flow.hub.current().next_step.code == "next.scan_qr_or_type_can"
    flow.on_qr(qr())
    assert len(chip.calls) == 1 and len(events(outbox)) == 1


def test_qr_only_desk_checks_in_at_once_with_qr_only_level(outbox):
    flow = make_flow(outbox, chip=None)
    flow.on_qr(qr())
    (ev,) = events(outbox)
    assert ev["method"] == "qr" and ev["trust_level"] == "qr_only"


def test_card_that_never_reaches_the_reader_ends_as_a_qr_only_checkin(outbox):
    clock = Clock()
    flow = make_flow(outbox, FakeChip(), clock=clock, chip_wait_seconds=20)
    flow.on_qr(qr())
    clock.now += 19
    flow.tick()
    assert events(outbox) == []
    clock.now += 2
    flow.tick()
    (ev,) = events(outbox)
    assert ev["trust_level"] == "qr_only"
    flow.on_card_inserted()  # too late: no second check-in, no read
    assert len(events(outbox)) == 1


def test_the_same_card_scanned_again_within_the_window_is_the_same_visit(outbox):
    clock = Clock()
    flow = make_flow(outbox, FakeChip(), clock=clock, debounce_seconds=30)
    flow.on_qr(qr())
    flow.on_card_inserted()
    clock.now += 5
    flow.on_qr(qr())  # camera still sees it
    flow.on_qr(qr() + b"\r\n")  # and the handheld scanner too
    assert len(events(outbox)) == 1


def test_a_new_patient_ends_the_previous_visit_as_qr_only(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(qr(CITIZEN))
    flow.on_qr(qr(OTHER))
    (ev,) = events(outbox)
    assert ev["trust_level"] == "qr_only"
    assert flow.pending.qr.id_number == OTHER.id_number


def test_typed_can_gives_a_chip_only_checkin(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    flow.on_card_inserted()
    flow.on_can(CITIZEN.id_number[-6:])
    (ev,) = events(outbox)
    assert ev["method"] == "chip"
    assert chip.calls[0][0][0].kind == "can" and chip.calls[0][1] is None


def test_chip_that_refuses_the_key_falls_back_to_a_qr_only_checkin_and_says_why(outbox):
    flow = make_flow(outbox, FakeChip(error=AccessDeniedError([])))
    flow.on_qr(qr())
    flow.on_card_inserted()
    (ev,) = events(outbox)
    assert ev["trust_level"] == "qr_only"
    view = flow.hub.current()
    assert view.badges[0].code == "chip.access_denied" and view.outcome == "warning"


def test_card_pulled_mid_read_is_reported_and_counted_once(outbox):
    flow = make_flow(outbox, FakeChip(error=CardRemovedError("card removed")))
    flow.on_qr(qr())
    flow.on_card_inserted()
    assert len(events(outbox)) == 1
    assert flow.hub.current().badges[0].code == "chip.card_removed"


def test_invalid_chip_is_counted_with_level_invalid_and_told_to_check_by_hand(outbox):
    bad = chip_check(TrustLevel.INVALID, identity(CITIZEN))
    flow = make_flow(outbox, FakeChip(answer=bad))
    flow.on_qr(qr())
    flow.on_card_inserted()
    (ev,) = events(outbox)
    assert ev["trust_level"] == "invalid"
    view = flow.hub.current()
    assert view.outcome == "failure" and view.next_step.code == "next.check_document_by_hand"


def test_malformed_qr_changes_nothing_and_shows_the_error(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(b"not|a|card")
    assert events(outbox) == [] and flow.pending is None
    assert flow.hub.current().outcome == "failure"


def test_bhyt_card_qr_is_named_and_not_counted(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(b"DN4340123456789|4e677579e1bb856e|01/01/1990|1|54686169|34 - 001|$")
    assert events(outbox) == []
    view = flow.hub.current()
    assert view.badges[0].code == "qr.bhyt_card" and view.next_step.code == "next.scan_id_card"


def test_scanner_that_flagged_lost_vietnamese_letters_is_refused_with_the_fix(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(b"089202012345||Le Van A|23052002|Nam|To 1, An Giang|31122021", flags={"diacritics_lost": True})
    assert events(outbox) == []
    view = flow.hub.current()
    assert view.badges[0].code == "qr.diacritics_lost"
    assert view.next_step.code == "next.switch_scanner_to_serial"


# -- the screen tells the facts (issue 13 item 1, issue 16 item 2)
def test_waiting_for_the_card_is_neutral_says_what_to_do_and_counts_down_to_the_qr_only_fallback(outbox):
    from datetime import UTC, datetime

    clock = Clock()
    flow = make_flow(outbox, FakeChip(), clock=clock, chip_wait_seconds=20)
    before = datetime.now(UTC)
    flow.on_qr(qr())
    view = flow.hub.current()
    assert view.state == "waiting_card" and view.outcome == "pending" and not view.checkin_recorded
    assert view.next_step.code == "next.place_card_on_reader"
    assert 19 <= (view.fallback_at - before).total_seconds() <= 21
    assert not view.handed_to_his  # nothing for the HIS before the visit ends


def test_a_card_that_never_came_is_recorded_qr_only_with_a_caution_not_green(outbox):
    clock = Clock()
    flow = make_flow(outbox, FakeChip(), clock=clock, chip_wait_seconds=20)
    flow.on_qr(qr())
    clock.now += 21
    flow.tick()
    view = flow.hub.current()
    assert view.state == "recorded_caution" and view.checkin_recorded
    assert view.reason.code == "chip.not_presented"


def test_a_qr_only_desk_records_in_green(outbox):
    flow = make_flow(outbox, chip=None)
    flow.on_qr(qr())
    view = flow.hub.current()
    assert view.state == "recorded" and view.outcome == "success" and view.handed_to_his


def test_a_card_on_the_reader_without_a_qr_is_neutral_not_a_checkin(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_card_inserted()
    view = flow.hub.current()
    assert view.state == "waiting_qr" and view.outcome == "pending" and not view.checkin_recorded
    assert events(outbox) == []


def test_a_verified_chip_is_green_and_an_unanchored_one_amber(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(qr())
    flow.on_card_inserted()
    assert flow.hub.current().state == "recorded"
    flow2 = make_flow(outbox, FakeChip(answer=chip_check(TrustLevel.CHIP_DATA_UNANCHORED, identity(OTHER))))
    flow2.on_qr(qr(OTHER))
    flow2.on_card_inserted()
    view = flow2.hub.current()
    assert view.state == "recorded_caution" and view.reason.code == "trust.chip_data_unanchored"


def test_a_cloned_chip_is_red_not_a_checkin_and_not_handed_to_the_his_yet_its_attempt_is_sent(outbox):
    flow = make_flow(outbox, FakeChip(answer=chip_check(TrustLevel.INVALID, identity(CITIZEN))))
    flow.on_qr(qr())
    flow.on_card_inserted()
    view = flow.hub.current()
    assert view.state == "not_recorded" and view.rejected and not view.checkin_recorded
    assert not view.handed_to_his
    assert view.reason.code == "chip_authentication.ca_failed"
    (ev,) = events(outbox)  # the server counts it as a rejected attempt, apart from check-ins
    assert ev["trust_level"] == "invalid"


def test_a_mismatch_shows_the_qrs_and_the_chips_values_side_by_side_with_the_differences_marked(outbox):
    forged = chip_check(TrustLevel.INVALID, identity(OTHER), mismatch=("name_mismatch", "date_of_birth_mismatch"))
    flow = make_flow(outbox, FakeChip(answer=forged))
    flow.on_qr(qr(CITIZEN))
    flow.on_card_inserted()
    view = flow.hub.current()
    rows = {c.field: c for c in view.comparison}
    assert rows["full_name"].qr == CITIZEN.full_name and rows["full_name"].chip == OTHER.full_name
    assert rows["full_name"].differs and rows["date_of_birth"].differs
    assert not rows["sex"].differs and not rows["id_number"].differs
    assert view.state == "not_recorded" and not view.handed_to_his


# -- a CAN never replaces a visit in progress unasked; the receptionist's buttons
def test_a_can_typed_while_a_qr_visit_waits_for_its_card_is_refused_and_the_visit_kept(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    flow.on_qr(qr(CITIZEN))
    waiting = flow.pending
    assert flow.on_can(OTHER.id_number[-6:]) == "visit_in_progress"
    assert flow.pending is waiting and events(outbox) == []
    flow.on_card_inserted()  # the visit goes on as if nothing was typed
    (ev,) = events(outbox)
    assert ev["method"] == "qr+chip" and chip.calls[0][1].id_number == CITIZEN.id_number


def test_replacing_the_waiting_visit_on_purpose_records_it_qr_only_first(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    flow.on_qr(qr(CITIZEN))
    assert flow.on_can(OTHER.id_number[-6:], replace=True) == "accepted"
    (ev,) = events(outbox)
    assert ev["trust_level"] == "qr_only"  # nothing lost
    flow.on_card_inserted()
    assert [e["method"] for e in events(outbox)] == ["qr", "chip"]


def test_a_can_typed_before_the_card_is_laid_down_reads_it_when_it_is(outbox):
    chip = FakeChip()
    flow = make_flow(outbox, chip)
    assert flow.on_can(CITIZEN.id_number[-6:]) == "accepted"
    assert flow.hub.current().state == "waiting_card" and chip.calls == []
    flow.on_card_inserted()
    (ev,) = events(outbox)
    assert ev["method"] == "chip" and chip.calls[0][0][0].kind == "can"


def test_a_malformed_can_changes_nothing(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(qr())
    waiting = flow.pending
    assert flow.on_can("12ab") == "invalid"
    assert flow.pending is waiting


def test_next_patient_ends_the_waiting_visit_qr_only_and_clears_the_screen(outbox):
    flow = make_flow(outbox, FakeChip())
    flow.on_qr(qr())
    flow.on_next_patient()
    (ev,) = events(outbox)
    assert ev["trust_level"] == "qr_only" and flow.pending is None and flow.hub.current() is None


def test_rescan_after_a_failed_read_lets_the_same_card_count_but_never_twice_after_a_recorded_one(outbox):
    flow = make_flow(outbox, FakeChip(error=CardRemovedError("card removed")))
    flow.on_can(CITIZEN.id_number[-6:])
    flow.on_card_inserted()  # pulled mid-read: nothing recorded
    assert flow.hub.current().state == "not_recorded" and events(outbox) == []
    bad_scan = b"089202012345|351234567|L\xc3\xaa V\xc4\x83n A|31022002|Nam|An Giang|31122021"
    flow.on_qr(bad_scan)
    first = flow.hub.current()
    assert first.state == "not_recorded" and first.badges[0].code == "dob.invalid_date"
    flow.on_qr(bad_scan)  # within the window: ignored
    assert flow.hub.current().visit_id == first.visit_id
    flow.on_rescan()
    assert flow.hub.current().next_step.code == "desk.rescan_ready"
    flow.on_qr(bad_scan)  # read again after a rescan
    again = flow.hub.current()
    assert again.visit_id != first.visit_id and again.badges[0].code == "dob.invalid_date"

    ok = make_flow(outbox, chip=None)
    ok.on_qr(qr(OTHER))
    ok.on_rescan()
    ok.on_qr(qr(OTHER))  # recorded already: the same visit, not a second check-in
    assert len([e for e in events(outbox) if e["method"] == "qr"]) == 1


def test_a_can_at_a_qr_only_desk_opens_nothing_and_changes_nothing(outbox):
    flow = make_flow(outbox, chip=None)
    assert flow.on_can(CITIZEN.id_number[-6:]) == "no_chip_reader"
    assert flow.pending is None and flow.hub.current() is None


def _clocked_flow(outbox, synchronized: bool):
    from datetime import UTC, datetime

    from edge.clock import ClockState, DeskClock

    # A Pi that booted on an old date (500 days before this card was issued), its sync state as given.
    clock = DeskClock(now=lambda: datetime(2019, 1, 1, 3, tzinfo=UTC),
                      state=lambda: ClockState(synchronized, "kernel", 16_000.0))
    service = CheckInService("34001", "desk-1", os.urandom(32), outbox, clock=clock)
    return DeskFlow(service, DeskHub(clear_after_seconds=0), chip_reader=None, clock=Clock())


def test_an_unsynchronised_desk_records_a_card_issued_after_its_wrong_date_and_shows_a_warning(outbox):
    flow = _clocked_flow(outbox, synchronized=False)
    flow.on_qr(qr())  # issued after 2019
    (ev,) = events(outbox)
    assert ev["occurred_at"].startswith("2019-01-01T03:00")  # the desk's own time, as it is
    view = flow.hub.current()
    assert view.checkin_recorded and "issue.future_unsynced" in [b.code for b in view.badges]


def test_a_synchronised_desk_still_refuses_an_issue_date_after_today(outbox):
    flow = _clocked_flow(outbox, synchronized=True)
    flow.on_qr(qr())
    assert events(outbox) == []
    view = flow.hub.current()
    assert not view.checkin_recorded and "issue.future" in [b.code for b in view.badges]
