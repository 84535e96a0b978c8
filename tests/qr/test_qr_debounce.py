"""The debouncer: pure logic, injected time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.debounce import Debouncer, debounce_key

CARD = "034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021".encode()
OTHER = "089202012345|351234567|Lê Văn A|23052002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31122021".encode()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_consecutive_frames_are_one_checkin():
    clock = Clock()
    d = Debouncer(window=2.0, clock=clock)
    results = []
    for _ in range(30):  # 30 frames at 30 fps: one second in view
        results.append(d.accept(CARD))
        clock.t += 1 / 30
    assert results.count(True) == 1 and results[0]


def test_card_left_in_view_stays_one_checkin():
    clock = Clock()
    d = Debouncer(window=2.0, clock=clock)
    assert d.accept(CARD)
    for _ in range(100):  # ten seconds in view, seen every 0.1 s: each sighting refreshes
        clock.t += 0.1
        assert not d.accept(CARD)


def test_rescan_within_window_is_a_repeat_and_after_window_is_new():
    clock = Clock()
    d = Debouncer(window=3.0, clock=clock)
    assert d.accept(CARD)
    clock.t += 2.5
    assert not d.accept(CARD)
    clock.t += 3.5
    assert d.accept(CARD)


def test_different_cards_are_independent():
    d = Debouncer(window=5.0, clock=Clock())
    assert d.accept(CARD)
    assert d.accept(OTHER)
    assert not d.accept(CARD)


def test_key_is_the_id_number_so_terminators_and_bom_do_not_matter():
    assert debounce_key(CARD) == debounce_key(CARD + b"\r\n") == debounce_key(b"\xef\xbb\xbf" + CARD)
    assert debounce_key(CARD) == b"id:034303012345"
    assert debounce_key(b"hello") == debounce_key(b"hello\r\n") != debounce_key(b"hullo")
    assert b"hello" not in debounce_key(b"hello")  # non-CCCD payloads are keyed by hash


def test_zero_window_accepts_every_later_read():
    d = Debouncer(window=0.0)
    assert d.accept(b"x", now=1.0)
    assert not d.accept(b"x", now=1.0)  # the very same instant: a duplicate delivery
    assert d.accept(b"x", now=1.001)


@given(st.lists(st.tuples(st.sampled_from([CARD, OTHER, b"abc"]), st.floats(0, 10)), max_size=60))
def test_never_two_checkins_of_one_key_within_the_window(reads):
    window = 3.0
    d = Debouncer(window=window, clock=Clock())
    now = 0.0
    last_seen: dict[bytes, float] = {}
    for data, gap in reads:
        now += gap
        accepted = d.accept(data, now=now)
        key = debounce_key(data)
        expected = key not in last_seen or now - last_seen[key] > window
        assert accepted == expected
        last_seen[key] = now


def test_memory_is_bounded():
    d = Debouncer(window=1e9, clock=Clock(), max_keys=10)
    for i in range(100):
        d.accept(f"{i:012d}|".encode())
    assert len(d._last_seen) <= 10


def test_the_key_function_decides_what_counts_as_the_same_payload():
    d = Debouncer(window=5.0, key=lambda data: data[:3], clock=Clock())
    assert d.accept(b"abc-1") and not d.accept(b"abc-2") and d.accept(b"xyz")


def test_a_card_known_by_its_id_number_is_the_same_key_as_its_qr_payload():
    from edge.debounce import id_number_key

    d = Debouncer(window=5.0, clock=Clock())
    assert d.accept_key(id_number_key("034303012345"))
    assert not d.accept(CARD)  # the chip read it; the camera's next sighting is the same visit


class Memory:
    """A debounce memory kept in a dict, standing in for the outbox database's table."""

    def __init__(self) -> None:
        self.rows: dict[bytes, float] = {}
        self.writes = 0

    def seen(self, key: bytes, at: float) -> bool:
        self.rows[key] = at
        self.writes += 1
        return True

    def recent(self, since: float) -> list[tuple[bytes, float]]:
        return sorted(((k, t) for k, t in self.rows.items() if t >= since), key=lambda r: r[1])

    def forget(self, key: bytes) -> None:
        self.rows.pop(key, None)


def test_a_restart_does_not_forget_the_card_just_read_and_keeps_no_id_number():
    import hashlib

    def seal(key: bytes) -> bytes:
        return hashlib.sha256(b"deployment-secret" + key).digest()

    memory, wall = Memory(), [5000.0]
    first = Debouncer(window=30.0, clock=Clock(), memory=memory, seal=seal, wall_clock=lambda: wall[0])
    assert first.accept(CARD)
    assert all(b"034303012345" not in k for k in memory.rows)  # sealed: no ID number kept
    wall[0] += 10  # the agent restarts ten seconds later
    second = Debouncer(window=30.0, clock=Clock(), memory=memory, seal=seal, wall_clock=lambda: wall[0])
    assert not second.accept(CARD)  # still the same visit
    assert second.accept(OTHER)
    wall[0] += 60
    third = Debouncer(window=30.0, clock=Clock(), memory=memory, seal=seal, wall_clock=lambda: wall[0])
    assert third.accept(CARD)  # the window has passed: a new check-in


def test_a_card_held_in_view_is_not_written_on_every_frame_and_a_rescan_is_forgotten_on_disk_too():
    memory, clock = Memory(), Clock()
    d = Debouncer(window=30.0, clock=clock, memory=memory)
    for _ in range(300):  # ten seconds at 30 fps
        d.accept(CARD)
        clock.t += 1 / 30
    assert memory.writes == 1
    d.forget(debounce_key(CARD))
    assert memory.rows == {} and d.accept(CARD)
