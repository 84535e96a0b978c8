"""The outbox keeps events, in order, until they are removed; across restarts."""

from edge.outbox import Outbox


def test_events_come_out_in_insertion_order_and_survive_reopening(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(5):
        assert box.add(f"E{i}", "t", b"p%d" % i)
    box.close()
    box = Outbox(tmp_path / "o.sqlite")
    items = box.pending(10)
    assert [i.event_id for i in items] == [f"E{i}" for i in range(5)]
    assert box.depth() == 5


def test_the_same_event_id_is_stored_once(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    assert box.add("E1", "t", b"a")
    assert not box.add("E1", "t", b"a")
    assert box.depth() == 1


def test_removed_events_are_gone_and_pending_pages_after_a_sequence(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(4):
        box.add(f"E{i}", "t", b"x")
    first = box.pending(2)
    assert [i.event_id for i in box.pending(10, after_seq=first[-1].seq)] == ["E2", "E3"]
    box.remove(first[0].seq)
    assert box.depth() == 3
    assert box.oldest_age() is not None and box.oldest_age() >= 0
