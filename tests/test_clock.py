"""The desk's clock state: timesyncd's flag first, else the kernel's NTP state (adjtimex)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

import pytest

from edge.clock import (
    STA_UNSYNC,
    TIME_ERROR,
    ClockState,
    DeskClock,
    KernelClock,
    clock_state,
    read_kernel_clock,
)


def test_timesyncd_flag_means_synchronised(tmp_path):
    flag = tmp_path / "synchronized"
    flag.touch()
    state = clock_state(timesyncd_flag=flag, kernel=lambda: KernelClock(TIME_ERROR, STA_UNSYNC, 16_000_000))
    assert state.synchronized is True and state.source == "timesyncd"


@pytest.mark.parametrize(("kernel", "expected"), [
    (KernelClock(0, 0, 12_000), True),  # TIME_OK, synced, 12 ms error bound
    (KernelClock(TIME_ERROR, STA_UNSYNC, 16_000_000), False),  # booted on an old time, no NTP yet
    (KernelClock(0, STA_UNSYNC, 16_000_000), False),  # the flag alone is enough
])
def test_without_the_flag_the_kernel_state_decides(tmp_path, kernel, expected):
    state = clock_state(timesyncd_flag=tmp_path / "absent", kernel=lambda: kernel)
    assert state.synchronized is expected and state.source == "kernel"
    assert state.max_error_ms == round(kernel.max_error_us / 1000, 1)


def test_nothing_to_ask_is_unknown_not_synchronised(tmp_path):
    state = clock_state(timesyncd_flag=tmp_path / "absent", kernel=lambda: None)
    assert state.synchronized is None and state.source == "unknown"
    assert state.to_dict() == {"synchronized": None, "source": "unknown", "max_error_ms": None}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_real_kernel_answers_adjtimex_read_only():
    kernel = read_kernel_clock()
    assert kernel is not None and 0 <= kernel.state <= TIME_ERROR and kernel.max_error_us >= 0


def test_a_desk_clock_is_trusted_unless_known_unsynchronised():
    def state(synced: bool | None) -> ClockState:
        return ClockState(synced, "kernel", None)

    assert DeskClock(state=lambda: state(True)).trusted()
    assert DeskClock(state=lambda: state(None)).trusted()  # nothing to ask: taken as it is
    assert not DeskClock(state=lambda: state(False)).trusted()


def test_the_desk_clock_gives_vietnams_date_of_its_own_now():
    late_utc = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # 01:30 on 2 March in Hanoi
    assert DeskClock(now=lambda: late_utc).today() == date(2026, 3, 2)
