"""The process's copy of a thread's archive: catches up, survives forks, never mixes threads."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langgraph.store.base import GetOp
from langgraph.store.memory import InMemoryStore

from memorygraph.retrieval import TranscriptCache, aload_transcript, load_transcript
from memorygraph.store.archive import archive_turns
from tests.unit.retrieval.kit import THREAD, transcript_of, turns


def fold(store: InMemoryStore, thread: tuple[str, str, str], texts: list[str], start: int) -> None:
    messages = [HumanMessage(text, id=f"{thread[2]}-{start + i}") for i, text in enumerate(texts)]
    archive_turns(store, thread, messages, start_seq=start, summary_version=1)


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def batch(self, ops):  # type: ignore[no-untyped-def]
        ops = list(ops)
        self.reads += sum(isinstance(op, GetOp) for op in ops)
        return super().batch(ops)


def test_the_copy_reads_only_what_is_new() -> None:
    store = CountingStore()
    cache = TranscriptCache()
    fold(store, THREAD, ["one", "two"], 0)
    transcript = cache.get(store, THREAD, archived=2, last_id="t1-1")
    assert [t.content for t in transcript.turns] == ["one", "two"]
    reads = store.reads
    assert cache.get(store, THREAD, archived=2, last_id="t1-1") is transcript
    assert store.reads == reads  # nothing new: no store read at all
    fold(store, THREAD, ["three"], 2)
    assert [t.content for t in cache.get(store, THREAD, archived=3, last_id="t1-2").turns] == [
        "one",
        "two",
        "three",
    ]
    assert store.reads - reads == 1  # one get for the one new turn


def test_a_new_process_reads_the_archive_from_the_store() -> None:
    store = InMemoryStore()
    fold(store, THREAD, ["one", "two", "three"], 0)
    warm = TranscriptCache().get(store, THREAD, archived=3, last_id="t1-2")
    cold = TranscriptCache().get(store, THREAD, archived=3, last_id="t1-2")  # after a restart
    assert [t.id for t in cold.turns] == [t.id for t in warm.turns]


def test_a_fork_of_an_older_checkpoint_uses_only_its_own_turns() -> None:
    store = InMemoryStore()
    cache = TranscriptCache()
    fold(store, THREAD, ["one", "two", "three"], 0)
    transcript = cache.get(store, THREAD, archived=3, last_id="t1-2")
    older = cache.get(store, THREAD, archived=2, last_id="t1-1")
    assert older is transcript and len(older) == 3  # callers use the first `archived` turns


def test_a_rewritten_archive_is_read_again() -> None:
    store = InMemoryStore()
    cache = TranscriptCache()
    fold(store, THREAD, ["one", "two"], 0)
    cache.get(store, THREAD, archived=2, last_id="t1-1")
    # Another branch of the thread folded different turns at the same positions.
    archive_turns(
        store, THREAD, [HumanMessage("other", id="other-1")], start_seq=1, summary_version=2
    )
    again = cache.get(store, THREAD, archived=2, last_id="other-1")
    assert [t.content for t in again.turns] == ["one", "other"]


def test_copies_are_kept_per_thread_user_tenant_and_store() -> None:
    store = InMemoryStore()
    cache = TranscriptCache()
    threads = [
        ("acme", "ana", "t1"),
        ("acme", "ana", "t2"),
        ("acme", "bo", "t1"),
        ("globex", "ana", "t1"),
    ]
    for number, thread in enumerate(threads):
        fold(store, thread, [f"secret {number}"], 0)
    for number, thread in enumerate(threads):
        transcript = cache.get(store, thread, archived=1, last_id=f"{thread[2]}-0")
        assert [t.content for t in transcript.turns] == [f"secret {number}"]
    other_store = InMemoryStore()
    assert len(cache.get(other_store, threads[0], archived=0, last_id=None)) == 0


def test_a_gap_in_the_archive_stops_the_copy() -> None:
    store = InMemoryStore()
    fold(store, THREAD, ["one"], 0)
    fold(store, THREAD, ["three"], 2)  # position 1 is missing
    transcript = TranscriptCache().get(store, THREAD, archived=3, last_id="t1-2")
    assert [t.content for t in transcript.turns][:1] == ["one"]
    assert "three" not in [t.content for t in transcript.turns[:2]]


def test_the_cache_forgets_the_least_recently_used_threads() -> None:
    store = InMemoryStore()
    cache = TranscriptCache(max_threads=2)
    for name in ("a", "b", "c"):
        thread = ("acme", "ana", name)
        fold(store, thread, ["x"], 0)
        cache.get(store, thread, archived=1, last_id=f"{name}-0")
    assert cache.held(store) == [("acme", "ana", "b"), ("acme", "ana", "c")]


def test_the_cache_keeps_at_most_max_turns_over_its_threads() -> None:
    store = CountingStore()
    cache = TranscriptCache(max_turns=5)
    a, b, c = (("acme", "ana", name) for name in "abc")
    for thread, size in ((a, 2), (b, 2), (c, 1)):
        fold(store, thread, ["x"] * size, 0)
        cache.get(store, thread, archived=size, last_id=f"{thread[2]}-{size - 1}")
    assert cache.held(store) == [a, b, c]  # 5 turns: all kept
    cache.get(store, a, archived=2, last_id="a-1")  # a is used again: b is now the oldest
    fold(store, c, ["y", "z"], 1)
    cache.get(store, c, archived=3, last_id="c-2")  # c grew to 3: 7 turns, b goes
    assert cache.held(store) == [a, c]
    cache.get(store, a, archived=2, last_id="a-1")
    assert cache.held(store) == [c, a]
    reads = store.reads
    again = cache.get(store, b, archived=2, last_id="b-1")  # dropped: read from the store
    assert [t.id for t in again.turns] == ["b-0", "b-1"] and store.reads > reads
    assert cache.held(store) == [a, b]


def test_a_thread_longer_than_max_turns_is_still_kept_while_it_is_used() -> None:
    store = CountingStore()
    cache = TranscriptCache(max_turns=2)
    fold(store, THREAD, ["one", "two", "three"], 0)
    transcript = cache.get(store, THREAD, archived=3, last_id="t1-2")
    reads = store.reads
    assert cache.get(store, THREAD, archived=3, last_id="t1-2") is transcript
    assert store.reads == reads and cache.held(store) == [THREAD]


@pytest.mark.parametrize(
    "bounds",
    [
        {"max_threads": 0},
        {"max_turns": 0},
        {"max_turns": -1},
        {"max_turns": True},
        {"max_turns": "100"},
        {"max_threads": 2.5},
    ],
)
def test_the_cache_refuses_bounds_that_would_keep_nothing(bounds: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be a whole number of at least 1"):
        TranscriptCache(**bounds)
    cache = TranscriptCache()
    with pytest.raises(ValueError, match="must be a whole number of at least 1"):
        cache.limit(**bounds)


def test_a_lower_limit_drops_the_oldest_copies_at_once() -> None:
    store = InMemoryStore()
    cache = TranscriptCache()
    for name in "abc":
        fold(store, ("acme", "ana", name), ["x", "y"], 0)
        cache.get(store, ("acme", "ana", name), archived=2, last_id=f"{name}-1")
    cache.limit(max_turns=4)
    assert cache.held(store) == [("acme", "ana", "b"), ("acme", "ana", "c")]
    cache.limit(max_threads=1)
    assert cache.held(store) == [("acme", "ana", "c")]


def test_forget_drops_the_copies_that_match_in_every_store() -> None:
    stores = [InMemoryStore(), InMemoryStore()]
    cache = TranscriptCache()
    keys = [
        ("acme", "ana", "t1"),
        ("acme", "ana", "t2"),
        ("acme", "bo", "t1"),
        ("beta", "ana", "t1"),
    ]
    for store in stores:
        for key in keys:
            fold(store, key, ["x"], 0)
            cache.get(store, key, archived=1, last_id=f"{key[2]}-0")
    assert cache.forget("acme", "ana", "t1") == 2
    assert cache.forget("acme", "bo") == 2
    assert cache.held(stores[0]) == [("acme", "ana", "t2"), ("beta", "ana", "t1")]
    assert cache.forget("acme") == 2 and cache.forget(thread_id="t1") == 2
    assert cache.held(stores[0]) == cache.held(stores[1]) == []


async def test_async_load_catches_up_too() -> None:
    store = InMemoryStore()
    fold(store, THREAD, ["one", "two"], 0)
    transcript = await aload_transcript(store, THREAD, archived=2, last_id="t1-1")
    fold(store, THREAD, ["three"], 2)
    grown = await aload_transcript(store, THREAD, archived=3, last_id="t1-2")
    assert grown is transcript
    assert [t.content for t in grown.turns] == ["one", "two", "three"]
    assert load_transcript(store, THREAD, archived=3, last_id="t1-2") is grown


def test_pending_turns_follow_the_archived_turns_the_state_knows() -> None:
    archive = transcript_of(turns(("Ana", "one"), ("Bo", "two"), ("Ana", "three")))
    # A fork whose state archived two turns: its window starts at position 2.
    window = [
        t.model_copy(update={"id": f"w{t.seq}", "seq": 2 + t.seq})
        for t in turns(("Bo", "same day"), ("Ana", "next week"), date="2024-03-01T10:05:00")
    ]
    window[1] = window[1].model_copy(update={"created_at": "2024-03-08T09:00:00"})
    both = archive.with_pending(window, archived=2)
    assert [t.content for t in both.turns] == ["one", "two", "same day", "next week"]
    assert (both.archived, both.settled) == (2, archive)
    assert both.sessions == [0, 0, 0, 1]  # a new date starts a new session
    assert both.session_span(3) == (3, 3)
    assert len(archive) == 3 and archive.sessions == [0, 0, 0]  # the archive is untouched
    assert (archive.archived, archive.settled) == (3, archive)
    with pytest.raises(ValueError, match="position 2, not 3"):
        archive.with_pending(window, archived=3)


def test_what_a_request_read_before_a_forget_is_not_kept_after_it() -> None:
    cache = TranscriptCache()

    class ForgottenMidRead(InMemoryStore):
        def batch(self, ops):  # type: ignore[no-untyped-def]
            results = super().batch(ops)
            cache.forget("acme", "ana", "t1")  # another caller forgets while this read runs
            return results

    store = ForgottenMidRead()
    fold(store, THREAD, ["one", "two"], 0)
    transcript = cache.get(store, THREAD, archived=2, last_id="t1-1")
    assert [t.content for t in transcript.turns] == ["one", "two"]  # this request is served
    assert cache.held(store) == []  # but its copy is not kept


def test_a_copy_is_checked_by_the_digest_of_its_turns_not_only_by_the_last_id() -> None:
    from memorygraph.store.archive import archive_digest, read_archive

    store = CountingStore()
    cache = TranscriptCache()
    fold(store, THREAD, ["my code is 1234", "ok"], 0)
    old = cache.get(store, THREAD, archived=2, last_id="t1-1")
    # Another process forgets the thread; a new conversation reuses the ids.
    store.delete(("memorygraph", "acme", "ana", "archive", "t1"), "0000000000")
    fold(store, THREAD, ["the weather is fine", "ok"], 0)
    digest = archive_digest(None, read_archive(store, THREAD))
    assert cache.get(store, THREAD, archived=2, last_id="t1-1") is old  # the id alone agrees
    fresh = cache.get(store, THREAD, archived=2, last_id="t1-1", digest=digest)
    assert fresh is not old and [t.content for t in fresh.turns] == ["the weather is fine", "ok"]
    reads = store.reads
    assert cache.get(store, THREAD, archived=2, last_id="t1-1", digest=digest) is fresh
    assert store.reads == reads  # a copy that matches is used as it is
    assert fresh.digest(1) == archive_digest(None, fresh.turns[:1])
    with pytest.raises(IndexError):
        fresh.digest(3)


def test_the_digest_of_turns_as_folded_equals_the_digest_of_them_as_stored() -> None:
    """A drop-in graph's own node may add text the store cannot keep: a NUL character.

    (A lone surrogate does not reach a fold: the checkpoint's serializer replaces it.)
    """
    from memorygraph.store.archive import archive_digest, read_archive, to_archived

    store = InMemoryStore()
    said = [HumanMessage("pass\x00word", id="h\x000"), HumanMessage("ok", id="h1")]
    archive_turns(store, THREAD, said, start_seq=0, summary_version=1)
    stored = read_archive(store, THREAD)
    assert stored[0].content != said[0].content  # cleaned on the way in
    folded = to_archived(said, start_seq=0, summary_version=1)
    assert archive_digest(None, folded) == archive_digest(None, stored)
