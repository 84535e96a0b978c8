"""Is the desk's clock synchronised? What systemd-timesyncd and the kernel say.

A Raspberry Pi has no real-time clock: after a power cut it boots on an old time and
keeps it until NTP answers. Two witnesses, neither of which needs privileges:
``/run/systemd/timesync/synchronized`` (created by systemd-timesyncd once it has
synchronised, systemd >= 239), and the kernel's NTP state from ``adjtimex(2)`` in read
mode (``TIME_ERROR`` or the ``STA_UNSYNC`` flag: not synchronised; ``maxerror``: the
bound of the error, in microseconds), which any NTP client (timesyncd, chrony, ntpd)
maintains. No personal data, no network.

:class:`DeskClock` is the desk's one source of "now" and of whether to trust it: the
check-in's read time, the publish's send time (the server corrects a desk's offset from
it, docs/clock.md) and the card checks that compare a date with today all ask it, so a
drill can give a desk a wrong clock without touching the process's time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from edge.domain.qr import VIETNAM_TZ

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5  # adjtimex's return value for "clock not synchronised"
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    """struct timex (linux/timex.h), the fields read here and the padding after them."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelClock:
    state: int  # adjtimex's return value (0 TIME_OK ... 5 TIME_ERROR)
    status: int  # STA_* flags
    max_error_us: int

    @property
    def synchronized(self) -> bool:
        return self.state != TIME_ERROR and not self.status & STA_UNSYNC


@functools.cache
def _libc() -> ctypes.CDLL:
    # Once: find_library runs ldconfig, and the state is read every second and at every scan.
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def read_kernel_clock() -> KernelClock | None:
    """The kernel's NTP state (adjtimex with modes=0 only reads), or None where there is none."""
    try:
        libc = _libc()
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):  # not Linux, no libc
        return None
    if state < 0:
        return None
    return KernelClock(state, int(timex.status), int(timex.maxerror))


@dataclass(frozen=True)
class ClockState:
    """What the desk knows about its own clock."""

    synchronized: bool | None  # None: nothing to ask (not Linux)
    source: str  # "timesyncd", "kernel" or "unknown"
    max_error_ms: float | None

    def to_dict(self) -> dict[str, object]:
        return {"synchronized": self.synchronized, "source": self.source, "max_error_ms": self.max_error_ms}


def clock_state(
    *, timesyncd_flag: Path = TIMESYNCD_FLAG, kernel: Callable[[], KernelClock | None] = read_kernel_clock
) -> ClockState:
    """Synchronised when timesyncd says so, else as the kernel's NTP state says."""
    k = kernel()
    max_error = None if k is None else round(k.max_error_us / 1000, 1)
    if timesyncd_flag.exists():
        return ClockState(True, "timesyncd", max_error)
    if k is not None:
        return ClockState(k.synchronized, "kernel", max_error)
    return ClockState(None, "unknown", None)


def system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeskClock:
    """The desk's "now" (aware) and its synchronisation state, injected where the desk dates things."""

    now: Callable[[], datetime] = system_now
    state: Callable[[], ClockState] = clock_state

    def today(self) -> date:
        """The desk's date, on Vietnam time."""
        return self.now().astimezone(VIETNAM_TZ).date()

    def trusted(self) -> bool:
        """May a card's date be refused for being after today? Not when the clock is known to be
        unsynchronised: a Pi that booted on an old time would refuse genuine new cards. With
        nothing to ask (not Linux) the clock is taken as it is."""
        return self.state().synchronized is not False
