"""Recall from the archive: passages with neighbours, dates, "when" questions, the budget."""

from __future__ import annotations

from datetime import date

import numpy as np
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, TokenCounter
from memorygraph.records import ArchivedTurn
from memorygraph.retrieval import LexicalRetriever, expand_hits, rank_turns, recall_items
from memorygraph.retrieval.temporal import named_period
from memorygraph.store.archive import archive_turns
from tests.unit.retrieval.kit import THREAD, said, transcript_of, turns

COUNTER = TokenCounter()


def archive(store: InMemoryStore, *messages: object, thread: tuple[str, str, str] = THREAD) -> int:
    archive_turns(store, thread, list(messages), start_seq=0, summary_version=1)  # type: ignore[arg-type]
    return len(messages)


def recall(store: InMemoryStore, query: str, archived: int, **options: object) -> list:  # type: ignore[type-arg]
    return recall_items(
        store,
        options.pop("thread", THREAD),  # type: ignore[arg-type]
        query,
        archived=archived,
        last_id=None,
        retriever=LexicalRetriever(),
        config=MemoryConfig(**options),  # type: ignore[arg-type]
        counter=COUNTER,
    )


def test_a_hit_comes_back_with_its_date_and_its_neighbours_when_asked() -> None:
    store = InMemoryStore()
    n = archive(
        store,
        said("Any weekend plans?", "Bo", "1:56 pm on 8 May, 2023"),
        said("I'm going to a pottery workshop in Porto.", "Ana", "1:56 pm on 8 May, 2023"),
        said("Sounds fun, send pictures!", "Bo", "1:56 pm on 8 May, 2023"),
        said("My cat knocked over a plant.", "Ana", "10:00 am on 20 June, 2023"),
    )
    (alone, *_) = recall(store, "Where is the pottery workshop?", n)
    assert alone.content == "Ana: I'm going to a pottery workshop in Porto."
    (first, *_) = recall(store, "Where is the pottery workshop?", n, recall_neighbours=1)
    assert first.kind == "recalled"
    assert first.content == (
        "Bo: Any weekend plans?\n"
        "Ana: I'm going to a pottery workshop in Porto.\n"
        "Bo: Sounds fun, send pictures!"
    )
    assert first.metadata["date"] == "Mon 8 May 2023, 13:56"
    assert len(first.metadata["turn_ids"]) == 3
    assert first.trust_level == "user_claimed"


def test_neighbours_stop_at_the_session_and_can_be_turned_off() -> None:
    store = InMemoryStore()
    n = archive(
        store,
        said("We moved to Lisbon.", when="2023-05-08T10:00:00"),
        said("I started learning the cello.", when="2023-06-20T10:00:00"),
    )
    (only,) = recall(store, "cello", n, recall_neighbours=1)
    assert only.content == "Ana: I started learning the cello."
    store2 = InMemoryStore()
    n = archive(store2, said("one"), said("cello time"), said("three"))
    best = min(recall(store2, "cello", n, recall_neighbours=0), key=lambda item: item.rank)
    assert best.content == "Ana: cello time"


def test_nothing_is_recalled_for_no_match_an_empty_archive_or_an_empty_request() -> None:
    store = InMemoryStore()
    n = archive(store, said("We moved to Lisbon."))
    assert recall(store, "zebra", n) == []
    assert recall(store, "", n) == []
    assert recall(store, "Lisbon", 0) == []


def test_only_the_archived_turns_the_state_knows_are_searched() -> None:
    # A fork of an older checkpoint: the archive holds a turn its state has not folded.
    store = InMemoryStore()
    archive(store, said("We moved to Lisbon."), said("Then we moved to Oslo."))
    assert [i.content for i in recall(store, "Oslo", 1)] == []


def test_candidates_stop_at_about_the_whole_budget() -> None:
    store = InMemoryStore()
    n = archive(store, *[said(f"Story {i} about the garden and the roses.") for i in range(200)])
    items = recall(store, "garden roses", n, token_budget=600, output_reserve=100)
    assert 0 < sum(item.tokens for item in items) < 500 + 200
    assert len({item.id for item in items}) == len(items)


def test_passages_of_one_session_share_a_header_in_the_estimate() -> None:
    store = InMemoryStore()
    n = archive(
        store,
        *[said(f"Line {i} mentions {'apples' if i % 4 == 0 else 'pears'}.") for i in range(12)],
    )
    items = recall(store, "apples", n, recall_neighbours=0)
    first, *rest = sorted(items, key=lambda item: item.rank)
    assert "apples" in first.content and rest
    assert all(item.tokens < first.tokens for item in rest)  # only the best pays the header


def test_when_questions_favour_turns_that_say_when() -> None:
    transcript = transcript_of(
        turns(("Ana", "The concert was amazing."), ("Ana", "I went to the concert yesterday."))
    )
    scores = np.array([1.0, 1.0])
    assert rank_turns(transcript, scores, "When did Ana go to the concert?")[0] == 1
    assert rank_turns(transcript, scores, "How was the concert?")[0] == 1  # ties: the newest


def test_a_session_that_matches_well_lifts_its_other_turns() -> None:
    day = [
        ArchivedTurn(
            id=f"d{i}", seq=i, role="human", content=text, created_at=date, summary_version=1
        )
        for i, (text, date) in enumerate(
            [
                ("I love hiking in the Alps", "2024-01-01T10:00"),
                ("the trail was muddy", "2024-01-01T10:01"),
                ("a walk in the park", "2024-02-01T10:00"),
                ("hiking once, long ago", "2024-02-01T10:01"),
            ]
        )
    ]
    transcript = transcript_of(day)
    scores = np.array([0.9, 0.3, 0.3, 0.4])
    order = rank_turns(transcript, scores, "hiking")
    assert order[0] == 0
    assert order.index(1) < order.index(3)  # 0.3 in a strong session beats 0.4 in a weak one
    assert rank_turns(transcript, scores, "hiking", session_weight=0.0)[:2] == [0, 3]


def test_expand_hits_never_repeats_a_turn() -> None:
    transcript = transcript_of(turns(*[("Ana", f"t{i}") for i in range(6)]))
    passages = expand_hits(transcript, [2, 3, 0, 5], neighbours=1)
    seen = [p for passage in passages for p in passage.positions]
    assert len(seen) == len(set(seen))
    assert [(p.first, p.last) for p in passages] == [(1, 3), (0, 0), (4, 5)]


def test_another_threads_archive_is_never_recalled() -> None:
    store = InMemoryStore()
    archive(store, said("Ana's secret code is 4411."), thread=("acme", "ana", "t1"))
    archive(store, said("nothing here"), thread=("acme", "ana", "t2"))
    archive(store, said("nothing here"), thread=("acme", "bo", "t1"))
    archive(store, said("nothing here"), thread=("globex", "ana", "t1"))
    for thread in [("acme", "ana", "t2"), ("acme", "bo", "t1"), ("globex", "ana", "t1")]:
        assert recall(store, "secret code", 1, thread=thread) == []
    assert recall(store, "secret code", 1, thread=("acme", "ana", "t1"))


def test_a_request_naming_one_speaker_favours_that_speakers_turns() -> None:
    transcript = transcript_of(
        turns(("Bo", "Running helps me unwind."), ("Ana", "Running helps me unwind too."))
    )
    scores = np.array([1.0, 1.0])
    assert rank_turns(transcript, scores, "What helps Bo unwind?")[0] == 0
    assert rank_turns(transcript, scores, "What helps Ana unwind?")[0] == 1
    # Both named, or the weight off: no speaker is favoured (ties go to the newest).
    assert rank_turns(transcript, scores, "What helps Ana and Bo unwind?")[0] == 1
    assert rank_turns(transcript, scores, "What helps Bo unwind?", speaker_weight=0.0)[0] == 1
    # A name is matched as a word: "Boston" does not name Bo.
    assert rank_turns(transcript, scores, "Did they run in Boston?")[0] == 1


def test_a_request_naming_a_day_or_month_favours_the_turns_said_then() -> None:
    said_on = [
        ("I painted a lake.", "2023-05-02T10:00"),  # in May
        ("I painted a lake again.", "2023-06-05T10:00"),  # within a week after May
        ("I painted a lake once more.", "2023-10-13T10:00"),
    ]
    transcript = transcript_of(
        [
            ArchivedTurn(
                id=f"p{i}", seq=i, role="human", content=text, created_at=when, summary_version=1
            )
            for i, (text, when) in enumerate(said_on)
        ]
    )
    scores = np.array([1.0, 1.0, 1.0])
    assert rank_turns(transcript, scores, "What did she paint?")[0] == 2  # ties: the newest
    assert rank_turns(transcript, scores, "What did she paint in May 2023?") == [1, 0, 2]
    assert rank_turns(transcript, scores, "What did she paint on 2 May, 2023?")[0] == 0
    assert rank_turns(transcript, scores, "What did she paint on October 13, 2023?")[0] == 2
    # Not a date: no period, the newest first.
    assert rank_turns(transcript, scores, "What did she paint on 31 February 2023?")[0] == 2


def test_named_periods() -> None:
    assert named_period("on 5th of June 2023") == (date(2023, 6, 5), date(2023, 6, 5))
    assert named_period("in Sept. 2022") == (date(2022, 9, 1), date(2022, 9, 30))
    assert named_period("last Friday") is None
    assert named_period("in 2023") is None


def test_a_window_turn_is_recalled_with_the_archive_and_its_date() -> None:
    store = InMemoryStore()
    n = archive(store, said("We moved to Lisbon.", when="2023-05-08T10:00:00"))
    window = [
        said("I started learning the cello.", "Bo", "2023-06-20T10:00:00", id="w1"),
        said("Good for you!", when="2023-06-20T10:01:00", id="w2"),
    ]
    items = recall_items(
        store,
        THREAD,
        "Who is learning the cello?",
        archived=n,
        last_id=None,
        retriever=LexicalRetriever(),
        config=MemoryConfig(),
        counter=COUNTER,
        pending=window,
    )
    best = min(items, key=lambda item: item.rank)
    assert best.content == "Bo: I started learning the cello."
    assert best.metadata["turn_ids"] == ["w1"]  # the message's own id: the packer dedupes by it
    assert best.metadata["date"] == "Tue 20 Jun 2023, 10:00"
    assert best.id == "recall:1-1"
    # Not before the thread has an archive to score the window by.
    no_archive = recall_items(
        InMemoryStore(),
        THREAD,
        "cello",
        archived=0,
        last_id=None,
        retriever=LexicalRetriever(),
        config=MemoryConfig(),
        counter=COUNTER,
        pending=window,
    )
    assert no_archive == []


def _noise(seed: int, words: int = 35) -> str:
    import random

    rng = random.Random(seed)
    vocabulary = [f"zq{n}" for n in range(2000)]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def test_recall_is_gated_by_the_requests_coverage_on_both_sides_of_the_floor() -> None:
    store = InMemoryStore()
    n = archive(
        store,
        said("I adopted a cat called Miso."),
        said("We went hiking in the Alps last spring."),
        said("The garden needs new roses."),
    )
    transcript = transcript_of(
        [
            ArchivedTurn(
                id=f"m{i}",
                seq=i,
                role="human",
                speaker="Ana",
                content=text,
                created_at="2024-03-01T10:00:00",
                summary_version=1,
            )
            for i, text in enumerate(
                [
                    "I adopted a cat called Miso.",
                    "We went hiking in the Alps last spring.",
                    "The garden needs new roses.",
                ]
            )
        ]
    )
    query = "Which cat food would suit a small kitten best?"
    coverage = LexicalRetriever().coverage(transcript, query)
    assert 0 < coverage < 0.17  # one word of six, weighted by rarity
    assert recall(store, query, n) == []  # below the default floor: nothing recalled
    assert recall(store, query, n, recall_min_coverage=coverage)  # at the floor: recalled
    assert recall(store, query, n, recall_min_coverage=coverage + 1e-9) == []
    # A request about what was said clears it.
    (best, *_) = recall(store, "What is my cat called?", n)
    assert best.content == "Ana: I adopted a cat called Miso."


def test_a_long_request_that_shares_words_only_by_chance_recalls_nothing() -> None:
    # The growth workload's shape: every turn and request is random words from
    # one vocabulary, so each request shares a few words with many turns.
    store = InMemoryStore()
    n = archive(store, *[said(_noise(i)) for i in range(300)])
    requests = [_noise(10_000 + i) for i in range(20)]
    assert all(recall(store, request, n) == [] for request in requests)
    assert any(recall(store, request, n, recall_min_coverage=0) for request in requests)


def test_the_hybrid_retrievers_coverage_is_its_best_parts() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from memorygraph.retrieval import EmbeddingRetriever, HybridRetriever

    transcript = transcript_of(turns(("Ana", "I adopted a cat called Miso.")))
    lexical = LexicalRetriever()
    embedding = EmbeddingRetriever(DeterministicFakeEmbedding(size=8))
    hybrid = HybridRetriever((lexical, 1.0), (embedding, 0.7))
    assert hybrid.coverage(transcript, "my cat?") == lexical.coverage(transcript, "my cat?") == 1.0
    assert HybridRetriever((embedding, 1.0)).coverage(transcript, "my cat?") is None


def test_dates_the_thread_never_said_do_not_lower_coverage_but_other_words_do() -> None:
    transcript = transcript_of(
        turns(
            ("Ana", "I painted a sunrise over the lake."),
            ("Bo", "Lovely colours."),
            ("Ana", "Vendor call notes, nothing decided yet."),
        )
    )
    retriever = LexicalRetriever()
    plain = retriever.coverage(transcript, "What did Ana paint?")
    # Turns carry their dates apart: a date in the request is not a word to find.
    assert retriever.coverage(transcript, "What did Ana paint on 13 October 2023?") == plain
    assert retriever.coverage(transcript, "What did Ana paint on Monday?") == plain
    # A number that is not part of a date is a word the thread never said.
    assert retriever.coverage(transcript, "Vendor call 150 notes?") < retriever.coverage(
        transcript, "Vendor call notes?"
    )
    # A request of dates alone is left to recall's date ranking.
    assert retriever.coverage(transcript, "13 October 2023?") == 1.0


def test_a_request_naming_a_speaker_of_the_thread_is_not_gated() -> None:
    store = InMemoryStore()
    n = archive(
        store,
        said("I fixed the bike chain myself.", "John"),
        said("Nice, I baked bread today.", "Gina"),
    )
    query = "Which personality traits and attributes describe John best?"
    transcript = transcript_of(
        [
            ArchivedTurn(
                id=f"m{i}",
                seq=i,
                role="human",
                speaker=who,
                content=text,
                created_at="2024-03-01T10:00:00",
                summary_version=1,
            )
            for i, (who, text) in enumerate(
                [("John", "I fixed the bike chain myself."), ("Gina", "Nice, I baked bread today.")]
            )
        ]
    )
    # Below the floor by its words (the name is the only one the thread said)...
    assert LexicalRetriever().coverage(transcript, query) < MemoryConfig().recall_min_coverage
    # ... and recalled all the same, for naming someone who spoke in the thread.
    assert recall(store, query, n)
    assert recall(store, query.replace("John", "Peter"), n) == []


def test_a_cached_thread_costs_about_7_kb_an_archived_turn() -> None:
    """What `TranscriptCache`'s turn bound is sized by: turns, index and rendered passages."""
    import gc
    import random
    import tracemalloc

    from memorygraph.retrieval import transcript_cache

    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=1 + i % 9)) for i in range(2000)]
    store = InMemoryStore()
    n = archive(store, *[said(" ".join(rng.choices(words, k=40))[:200]) for _ in range(300)])
    tracemalloc.start()
    try:
        for _ in range(40):  # until about every turn's passage is rendered and kept
            recall(store, " ".join(rng.choices(words, k=12)), n)
        assert transcript_cache().held(store) == [THREAD]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        transcript_cache().forget(thread_id=THREAD[2])
        gc.collect()
        held -= tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert transcript_cache().held(store) == []
    assert 3_000 < held / n < 8_000, f"{held / n:.0f} bytes an archived turn"  # 6.8 kB here


def test_a_pending_message_replaced_under_its_id_is_recalled_as_it_now_reads() -> None:
    """`add_messages` replaces a message that reuses an id (an edit, a redaction)."""
    store = InMemoryStore()
    n = archive(store, *[said(f"Filler turn {i} about gardening and roses.") for i in range(20)])

    def recalled(text: str, query: str, speaker: str = "Ana") -> list[str]:
        pending = [
            said(text, speaker, id="p1"),
            said("Another pending turn about the weather.", id="p2"),
        ]
        items = recall_items(
            store,
            THREAD,
            query,
            archived=n,
            last_id=None,
            retriever=LexicalRetriever(),
            config=MemoryConfig(),
            counter=COUNTER,
            pending=pending,
        )
        return [item.content for item in items]

    assert "Ana: My bank password is hunter2." in recalled("My bank password is hunter2.", "bank")
    now = recalled("My bank password is [redacted].", "bank password")
    assert "Ana: My bank password is [redacted]." in now
    assert not any("hunter2" in content for content in now)
    # scored by its words now: the old ones no longer find it
    assert not any("password" in content for content in recalled("My PIN is new.", "hunter2"))
    # and by who said it
    assert "Zed: I fixed the roof." in recalled("I fixed the roof.", "What did Zed say?", "Zed")
    again = recalled("I fixed the roof.", "What did Zed say?", "Ana")
    assert not any("Zed" in content or "roof" in content for content in again)
