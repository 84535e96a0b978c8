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


def test_the_debounce_memory_survives_reopening_and_is_pruned(tmp_path):
    from edge.outbox import DebounceStore

    box = Outbox(tmp_path / "o.sqlite")
    store = DebounceStore(box)
    assert store.seen(b"k1", 100.0) and store.seen(b"k2", 200.0) and store.seen(b"k1", 300.0)
    box.close()
    box = Outbox(tmp_path / "o.sqlite")
    store = DebounceStore(box)
    assert store.recent(150.0) == [(b"k2", 200.0), (b"k1", 300.0)]  # oldest first, k1 refreshed
    assert store.prune(250.0) == 1
    assert store.recent(0.0) == [(b"k1", 300.0)]
    store.forget(b"k1")
    assert store.recent(0.0) == []
    assert box.depth() == 0  # the debounce table is not the queue


def test_a_failed_debounce_write_counts_as_a_write_failure_and_does_not_raise(tmp_path):
    from edge.outbox import DebounceStore

    box = Outbox(tmp_path / "o.sqlite")
    store = DebounceStore(box)
    box._db.execute("DROP TABLE debounce")  # the write now fails inside SQLite
    assert not store.seen(b"k", 1.0)
    assert box.write_failures == 1 and box.write_failing
    assert box.add("E1", "t", b"x")  # the queue itself still works, and the failure is behind it
    assert not box.write_failing
