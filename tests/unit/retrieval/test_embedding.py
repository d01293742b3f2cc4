"""Embedding retrieval: any LangChain Embeddings, the store's semantic index, the hybrid."""

from __future__ import annotations

import numpy as np
import pytest
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, TokenCounter
from memorygraph.retrieval import (
    EmbeddingRetriever,
    HybridRetriever,
    LexicalRetriever,
    default_retriever,
    minilm_available,
    recall_items,
)
from memorygraph.retrieval.base import normalize_zscore
from memorygraph.retrieval.embedding import embedding_text, queries
from memorygraph.store.archive import archive_turns
from tests.unit.retrieval.kit import THREAD, KeywordEmbeddings, said, transcript_of, turns

CHAT = turns(
    ("Ana", "Pottery on Sundays helps me unwind."),
    ("Bo", "I bought a new canvas yesterday."),
    ("Ana", "My kitten sleeps all day."),
)


def test_embeddings_find_what_words_alone_miss() -> None:
    transcript = transcript_of(CHAT)
    query = "How does Bo destress?"
    assert LexicalRetriever(feedback=0).score(transcript, query)[0] == 0.0  # no word in common
    scores = EmbeddingRetriever(KeywordEmbeddings()).score(transcript, query)
    assert int(np.argmax(scores)) == 0
    assert scores.max() == 1.0


def test_each_turn_is_embedded_once_as_the_transcript_grows() -> None:
    model = KeywordEmbeddings()
    retriever = EmbeddingRetriever(model, batch_size=2)
    transcript = transcript_of(CHAT[:2])
    retriever.score(transcript, "cat")
    assert model.calls == 1
    retriever.score(transcript, "paint")
    assert model.calls == 1  # nothing new to embed
    transcript.extend(CHAT[2:])
    assert int(np.argmax(retriever.score(transcript, "cat"))) == 2
    assert model.calls == 2


def test_two_models_keep_their_own_vectors() -> None:
    transcript = transcript_of(CHAT)
    first, second = KeywordEmbeddings(), KeywordEmbeddings()
    EmbeddingRetriever(first).score(transcript, "cat")
    EmbeddingRetriever(second).score(transcript, "cat")
    assert (first.calls, second.calls) == (1, 1)


def test_the_store_semantic_index_is_used_when_there_is_one() -> None:
    store = InMemoryStore(index={"embed": KeywordEmbeddings(), "dims": 5, "fields": ["content"]})
    messages = [said(t.content, t.speaker or "Ana") for t in CHAT]
    archive_turns(store, THREAD, messages, start_seq=0, summary_version=1)
    items = recall_items(
        store,
        THREAD,
        "What helps Ana relax?",
        archived=3,
        last_id=None,
        retriever=default_retriever(store),  # type: ignore[arg-type]
        config=MemoryConfig(recall_neighbours=0),
        counter=TokenCounter(),
    )
    assert default_retriever(store).name == "bm25+embeddings"  # type: ignore[union-attr]
    best = min(items, key=lambda item: item.rank)
    assert "unwind" in best.content


def test_without_an_index_or_a_model_the_embedding_retriever_explains() -> None:
    with pytest.raises(ValueError, match="semantic index"):
        EmbeddingRetriever().score(transcript_of(CHAT), "cat", store=InMemoryStore())


async def test_async_scoring_agrees() -> None:
    transcript = transcript_of(CHAT)
    retriever = HybridRetriever(
        (LexicalRetriever(), 1.0), (EmbeddingRetriever(KeywordEmbeddings()), 0.5)
    )
    assert retriever.name == "bm25+embeddings"
    sync = retriever.score(transcript, "Ana's kitten")
    assert np.allclose(await retriever.ascore(transcript, "Ana's kitten"), sync)


async def test_async_store_index_search() -> None:
    store = InMemoryStore(index={"embed": KeywordEmbeddings(), "dims": 5, "fields": ["content"]})
    archive_turns(store, THREAD, [said(t.content) for t in CHAT], start_seq=0, summary_version=1)
    scores = await EmbeddingRetriever().ascore(transcript_of(CHAT), "relax", store=store)
    assert int(np.argmax(scores)) == 0


def test_hybrid_weights_are_checked() -> None:
    with pytest.raises(ValueError):
        HybridRetriever()
    with pytest.raises(ValueError):
        HybridRetriever((LexicalRetriever(), -1.0))


def test_auto_without_the_extra_or_an_index_is_bm25() -> None:
    retriever = default_retriever(InMemoryStore())
    expected = "bm25+embeddings" if minilm_available() else "bm25"
    assert retriever is not None and retriever.name == expected


# --- the [embeddings] extra: runs when it is installed ------------------------------

needs_extra = pytest.mark.skipif(not minilm_available(), reason='needs pip install ".[embeddings]"')


@needs_extra
def test_minilm_embeds_offline_and_understands_paraphrase(network_attempts: list[str]) -> None:
    from memorygraph.retrieval import MiniLMEmbeddings

    model = MiniLMEmbeddings()
    vectors = np.array(model.embed_documents(["I relax by doing pottery.", "My car broke down."]))
    query = np.array(model.embed_query("How do you unwind?"))
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ query > vectors[1] @ query
    assert network_attempts == []


@needs_extra
def test_auto_fuses_bm25_with_minilm_when_the_extra_is_installed() -> None:
    transcript = transcript_of(CHAT)
    retriever = default_retriever(InMemoryStore())
    assert retriever is not None and retriever.name == "bm25+embeddings"
    assert int(np.argmax(retriever.score(transcript, "How to destress?"))) == 0


# ------------------------------------------------- turns of the working window

WINDOW = [
    t.model_copy(update={"id": f"w{t.seq}", "seq": len(CHAT) + t.seq})
    for t in turns(("Bo", "Hiking the coast trail calms me down."), ("Ana", "Nice."))
]


def test_pending_turns_are_scored_with_the_archive_and_embedded_once() -> None:
    model = KeywordEmbeddings()
    retriever = EmbeddingRetriever(model)
    archive = transcript_of(CHAT)
    retriever.score(archive, "cat")
    assert model.calls == 1
    both = archive.with_pending(WINDOW, archived=len(CHAT))
    scores = retriever.score(both, "Where does Bo go hiking?")
    assert len(scores) == 5
    assert int(np.argmax(scores)) == 3
    assert model.calls == 2  # the window's turns, once
    again = archive.with_pending(WINDOW, archived=len(CHAT))
    assert np.allclose(retriever.score(again, "Where does Bo go hiking?"), scores)
    assert model.calls == 2  # kept beside the archive's vectors
    assert retriever.score(archive, "cat").shape == (3,)  # the archive alone, as before


async def test_async_pending_turns_agree() -> None:
    retriever = EmbeddingRetriever(KeywordEmbeddings())
    both = transcript_of(CHAT).with_pending(WINDOW, archived=len(CHAT))
    sync = retriever.score(both, "hiking trail")
    fresh = EmbeddingRetriever(KeywordEmbeddings())
    assert np.allclose(await fresh.ascore(both, "hiking trail"), sync)


def test_the_store_index_ranks_pending_turns_last() -> None:
    # The store embeds turns as they are archived: pending ones are not in its index yet.
    store = InMemoryStore(index={"embed": KeywordEmbeddings(), "dims": 5, "fields": ["content"]})
    archive_turns(store, THREAD, [said(t.content) for t in CHAT], start_seq=0, summary_version=1)
    both = transcript_of(CHAT).with_pending(WINDOW, archived=len(CHAT))
    scores = EmbeddingRetriever().score(both, "hiking", store=store)
    assert len(scores) == 5
    assert scores[3] == scores[4] == scores.min()


def test_a_window_turn_is_not_embedded_again_when_it_is_archived() -> None:
    model = KeywordEmbeddings()
    retriever = EmbeddingRetriever(model)
    archive = transcript_of(CHAT)
    scores = retriever.score(archive.with_pending(WINDOW, archived=len(CHAT)), "hiking")
    assert model.calls == 1  # the archive and the window in one batch
    archive.extend(WINDOW)  # folded: now archived
    assert np.allclose(retriever.score(archive, "hiking"), scores)
    assert model.calls == 1


class NameAwareEmbeddings(KeywordEmbeddings):
    """Like `KeywordEmbeddings`, but speakers' names are concepts too, as in a real model."""

    CONCEPTS = {**KeywordEmbeddings.CONCEPTS, "melanie": 4, "caroline": 5}


NAMED_CHAT = turns(
    ("Melanie", "Thanks Caroline!"),
    ("Melanie", "So nice, I love it."),
    ("Melanie", "We went hiking on a long trail."),
    ("Caroline", "Sounds lovely."),
)


def test_a_request_is_also_embedded_without_the_speakers_it_names() -> None:
    assert queries(transcript_of(NAMED_CHAT), "Does Melanie's family hike?") == [
        "Does Melanie's family hike?",
        "Does family hike?",
    ]
    assert queries(transcript_of(NAMED_CHAT), "Does Mel hike?") == ["Does Mel hike?"]
    assert queries(transcript_of(NAMED_CHAT), "Melanie?") == ["Melanie?"]  # nothing else left


def test_a_named_speakers_turns_about_nothing_in_particular_rank_lower() -> None:
    # Every turn is embedded with its speaker's name, so "Melanie" in the request
    # makes all her turns look relevant; the name-free request does not.
    model = NameAwareEmbeddings()
    transcript = transcript_of(NAMED_CHAT)
    query = "Does Melanie go hiking?"
    scores = EmbeddingRetriever(model).score(transcript, query)
    matrix = np.array(model.embed_documents([embedding_text(t) for t in NAMED_CHAT]))
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    vector = np.array(model.embed_query(query))
    name_only = normalize_zscore(matrix @ (vector / np.linalg.norm(vector)))
    assert int(np.argmax(scores)) == int(np.argmax(name_only)) == 2
    assert scores[1] < name_only[1] - 0.1  # "So nice, I love it." says nothing about hiking


async def test_the_store_index_is_searched_with_both_requests_sync_and_async() -> None:
    store = InMemoryStore(index={"embed": NameAwareEmbeddings(), "dims": 7, "fields": ["content"]})
    messages = [said(t.content, t.speaker or "") for t in NAMED_CHAT]
    archive_turns(store, THREAD, messages, start_seq=0, summary_version=1)
    transcript = transcript_of(NAMED_CHAT)
    sync = EmbeddingRetriever().score(transcript, "Does Caroline hike?", store=store)
    assert np.allclose(
        await EmbeddingRetriever().ascore(transcript, "Does Caroline hike?", store=store), sync
    )
    assert int(np.argmax(sync)) == 2
