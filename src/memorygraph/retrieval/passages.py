"""Expansion to neighbouring turns: each hit is recalled with the turns around it.

A turn on its own is often half of an exchange ("For walking or running?" /
"Running, mostly."). `expand_hits` turns ranked hits into passages: each hit
with up to ``neighbours`` turns on either side, never across a session
boundary and never repeating a turn an earlier (better) passage already holds.
A hit that an earlier passage already holds adds nothing.

Example:
    >>> from memorygraph.records import ArchivedTurn
    >>> from memorygraph.retrieval.transcript import Transcript
    >>> transcript = Transcript(("acme", "ana", "t1"))
    >>> transcript.extend([
    ...     ArchivedTurn(id=f"m{i}", seq=i, role="human", content=f"turn {i}",
    ...                  created_at=f"2024-03-0{1 + i // 3}T10:00:00", summary_version=1)
    ...     for i in range(6)
    ... ])
    >>> transcript.sessions
    [0, 0, 0, 1, 1, 1]
    >>> [(p.first, p.last, p.hit) for p in expand_hits(transcript, [3, 4, 1], neighbours=1)]
    [(3, 4, 3), (0, 2, 1)]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from memorygraph.retrieval.transcript import Transcript

__all__ = ["Passage", "expand_hits", "iter_passages"]


@dataclass(frozen=True)
class Passage:
    """A run of consecutive turns of one session, recalled for one hit.

    Attributes:
        first: Position of the first turn.
        last: Position of the last turn.
        hit: Position of the turn that matched.
        rank: 0 for the passage of the best hit, then 1, 2, ...
    """

    first: int
    last: int
    hit: int
    rank: int = 0

    @property
    def positions(self) -> range:
        """The positions of its turns, oldest first."""
        return range(self.first, self.last + 1)


def iter_passages(
    transcript: Transcript,
    hits: Iterable[int],
    *,
    neighbours: int = 1,
    upto: int | None = None,
) -> Iterator[Passage]:
    """Yield the passages of `expand_hits` one at a time, so a caller can stop early."""
    stop = len(transcript) if upto is None else min(upto, len(transcript))
    taken: set[int] = set()
    rank = 0
    for hit in hits:
        if not 0 <= hit < stop or hit in taken:
            continue
        first_in_session, last_in_session = transcript.session_span(hit)
        first = hit
        while first > max(first_in_session, hit - neighbours) and first - 1 not in taken:
            first -= 1
        last = hit
        while last < min(last_in_session, hit + neighbours, stop - 1) and last + 1 not in taken:
            last += 1
        taken.update(range(first, last + 1))
        yield Passage(first, last, hit, rank)
        rank += 1


def expand_hits(
    transcript: Transcript,
    hits: Iterable[int],
    *,
    neighbours: int = 1,
    upto: int | None = None,
    limit: int | None = None,
) -> list[Passage]:
    """Turn ranked hits (positions, best first) into passages with their neighbours.

    Args:
        transcript: The thread's turns.
        hits: Positions of matching turns, best first.
        neighbours: Turns taken on each side of a hit, within its session.
        upto: Only positions below this are used (default: all).
        limit: The most passages to return.

    Returns:
        Passages in the order of their hits; no turn is in two of them.
    """
    passages = iter_passages(transcript, hits, neighbours=neighbours, upto=upto)
    return list(itertools.islice(passages, limit))
