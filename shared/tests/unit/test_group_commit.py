"""GroupCommitter: batches form while the writer is busy, outcomes reach the right callers."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from support_shared.group_commit import GroupCommitter, GroupCommitTimeout


class Recorder:
    """apply_batch/apply_one that record what they got; the first batch can be held open."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.singles: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail_batches = fail_batches

    def batch(self, items: list[int]):
        self.entered.set()
        self.hold.wait(5)
        self.batches.append(list(items))
        if self.fail_batches:
            raise ConnectionError("database went away")
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    def one(self, item: int) -> int:
        self.singles.append(item)
        if item == 3:
            raise KeyError(item)
        return item * 100


def _submit_all(committer, items, recorder):
    """Submit the first item, hold the writer inside its batch, then submit the rest."""
    recorder.hold.clear()
    with ThreadPoolExecutor(len(items)) as pool:
        first = pool.submit(committer.submit, items[0])
        assert recorder.entered.wait(5)
        rest = [pool.submit(committer.submit, item) for item in items[1:]]
        while committer._queue.qsize() < len(items) - 1:  # all queued behind the writer
            threading.Event().wait(0.01)
        recorder.hold.set()
        return [first, *rest]


def _outcome(future):
    try:
        return future.result(5)
    except Exception as exc:  # noqa: BLE001 - the test compares what each caller got
        return type(exc).__name__


def test_items_queued_while_the_writer_is_busy_share_one_batch():
    recorder = Recorder()
    committer = GroupCommitter(recorder.batch, recorder.one, max_batch=64)
    futures = _submit_all(committer, [2, 4, 5, 6, 8], recorder)
    assert [_outcome(f) for f in futures] == [20, 40, "ValueError", 60, 80]
    assert recorder.batches[0] == [2]
    assert sorted(recorder.batches[1]) == [4, 5, 6, 8]   # one batch for the four waiting
    assert committer.batches == 2 and committer.items == 5
    committer.close()


def test_max_batch_caps_a_batch():
    recorder = Recorder()
    committer = GroupCommitter(recorder.batch, recorder.one, max_batch=2)
    _submit_all(committer, [2, 4, 6, 8, 10], recorder)
    assert [len(b) for b in recorder.batches] == [1, 2, 2]
    committer.close()


def test_a_failed_batch_is_applied_one_item_at_a_time():
    recorder = Recorder(fail_batches=True)
    committer = GroupCommitter(recorder.batch, recorder.one, max_batch=64)
    futures = _submit_all(committer, [1, 2, 3], recorder)
    # Each item alone: 1 and 2 succeed, 3 raises its own error, nothing is lost or doubled.
    assert [_outcome(f) for f in futures] == [100, 200, "KeyError"]
    assert sorted(recorder.singles) == [1, 2, 3]
    committer.close()


def test_a_wrong_number_of_outcomes_fails_every_caller():
    committer = GroupCommitter(lambda items: [], lambda item: item, max_batch=8)
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        committer.submit(1)
    committer.close()


def test_a_caller_gives_up_after_its_timeout():
    release = threading.Event()
    committer = GroupCommitter(lambda items: (release.wait(5), items)[1], lambda item: item,
                               timeout_s=0.2)
    with pytest.raises(GroupCommitTimeout):
        committer.submit(1)
    release.set()
    committer.close()


def test_close_stops_the_writer_and_a_later_submit_starts_another():
    committer = GroupCommitter(lambda items: items, lambda item: item)
    assert committer.submit(7) == 7
    first = committer._thread
    committer.close()
    assert first is not None and not first.is_alive()
    assert committer.submit(8) == 8
    assert committer._thread is not first
    committer.close()


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError):
        GroupCommitter(lambda items: items, lambda item: item, max_batch=0)
