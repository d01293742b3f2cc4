"""Helpers for the retrieval tests: turns, transcripts, a keyword embedding model."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage, HumanMessage

from memorygraph.records import ArchivedTurn
from memorygraph.retrieval.columns import Columns
from memorygraph.retrieval.transcript import Transcript

THREAD = ("acme", "ana", "t1")


def turns(*said: tuple[str, str], date: str = "2024-03-01T10:00:00") -> list[ArchivedTurn]:
    """Archived turns (speaker, text), all in one session."""
    return [
        ArchivedTurn(
            id=f"m{i}",
            seq=i,
            role="human",
            speaker=speaker,
            content=text,
            created_at=date,
            summary_version=1,
        )
        for i, (speaker, text) in enumerate(said)
    ]


def transcript_of(archived: Sequence[ArchivedTurn]) -> Transcript:
    transcript = Transcript(THREAD)
    transcript.extend(archived)
    return transcript


def said(
    text: str, speaker: str = "Ana", when: str = "2024-03-01T10:00:00", id: str = ""
) -> BaseMessage:
    return HumanMessage(text, name=speaker, id=id or None, additional_kwargs={"created_at": when})


class KeywordEmbeddings(Embeddings):
    """A tiny semantic model: words map to concepts, a text to its bag of concepts.

    It knows that "destress", "relax" and "unwind" mean the same thing, which
    BM25 cannot; unknown words are ignored.
    """

    CONCEPTS = {
        "relax": 0,
        "destress": 0,
        "unwind": 0,
        "calm": 0,
        "cat": 1,
        "kitten": 1,
        "pet": 1,
        "paint": 2,
        "painting": 2,
        "painted": 2,
        "canvas": 2,
        "hike": 3,
        "hiking": 3,
        "trail": 3,
    }

    def __init__(self) -> None:
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(len(set(self.CONCEPTS.values())) + 1)
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in self.CONCEPTS:
                vector[self.CONCEPTS[word]] += 1.0
        vector[-1] = 0.01  # never all zeros
        return [float(x) for x in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def by_word_and_turn(columns: Columns) -> dict[tuple[str, int], bytes]:
    """Every (word, turn) score, as its float32 bytes."""
    names = {column: word for word, column in columns.vocab_dict.items()}
    scores, found = columns.scores, {}
    for column in range(len(scores["indptr"]) - 1):
        for at in range(scores["indptr"][column], scores["indptr"][column + 1]):
            found[(names[column], int(scores["indices"][at]))] = scores["data"][at].tobytes()
    return found
