"""Recall: from the current request to `recalled` context items, within the budget.

The steps, each its own small function:

0. The relevance floor: when no turn of the thread says at least
   ``MemoryConfig.recall_min_coverage`` of the request
   (`memorygraph.retrieval.LexicalRetriever.coverage`) and the request names
   no one who spoke in the thread, nothing is recalled and the turns are not
   even scored.
1. `rank_turns`: the retriever's scores, raised for the turns of the one
   speaker the request names ("What does Melanie do to relax?" is answered by
   what Melanie said), for turns in sessions that match the request (a
   conversation about the topic is a better place to look than a stray
   mention), for turns said in the day or month the request names ("on 13
   October 2023", "in May 2023"), and for turns that say when something
   happened when the request asks when (`temporal`).
2. `memorygraph.retrieval.passages.expand_hits`: each hit with its neighbours
   (``MemoryConfig.recall_neighbours``, none by default: the index already
   reads each turn with its neighbours' words, and a neighbour shown costs
   the budget another hit would use better).
3. `passage_items`: one `ContextItem` of kind ``recalled`` per passage, each
   turn on a line as ``speaker: text``, the date in the item's header. Items
   are ranked by relevance for packing and rendered in chronological order.

`recall_items` runs them over the thread's `Transcript` and, when given the
working window's turns (``pending``), over those too: a turn the recent-turn
share cannot show is ranked with the archive rather than lost until the next
fold (`Transcript.with_pending`). `arecall_items` is its async twin.
Candidates stop once they hold as many tokens as the whole budget could take,
so a package's excluded list stays short.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryConfig, TokenCounter
    >>> from memorygraph.retrieval import LexicalRetriever
    >>> from memorygraph.store.archive import archive_turns
    >>> store = InMemoryStore()
    >>> thread = ("acme", "ana", "t1")
    >>> said = ["I adopted a cat called Miso.", "Lovely!", "We went hiking in the Alps.", "Nice."]
    >>> turns = [HumanMessage(text, id=f"m{i}", name="Ana" if i % 2 == 0 else "Bo",
    ...                       additional_kwargs={"created_at": f"2024-03-0{1 + i // 2}T10:00"})
    ...          for i, text in enumerate(said)]
    >>> _ = archive_turns(store, thread, turns, start_seq=0, summary_version=1)
    >>> items = recall_items(store, thread, "What is my cat called?", archived=4, last_id="m3",
    ...                      retriever=LexicalRetriever(), config=MemoryConfig(),
    ...                      counter=TokenCounter())
    >>> print(items[0].content)
    Ana: I adopted a cat called Miso.
    >>> items[0].metadata["date"]
    'Fri 1 Mar 2024, 10:00'
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from memorygraph.records import ContextItem, ItemKind, Priority, TrustLevel
from memorygraph.rendering.cost import recalled_tokens
from memorygraph.retrieval.base import Retriever, Scores, normalize_max
from memorygraph.retrieval.passages import Passage, iter_passages
from memorygraph.retrieval.temporal import favour_dated, favour_period, mentions_time
from memorygraph.retrieval.transcript import Transcript, aload_transcript, load_transcript
from memorygraph.store.archive import to_archived
from memorygraph.timestamps import format_timestamp

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langgraph.store.base import BaseStore

    from memorygraph.config import MemoryConfig
    from memorygraph.records import ArchivedTurn
    from memorygraph.tokens import TokenCounter

__all__ = [
    "SESSION_WEIGHT",
    "SPEAKER_WEIGHT",
    "arecall_items",
    "passage_items",
    "rank_turns",
    "recall_items",
]

ThreadKey = tuple[str, str, str]

SESSION_WEIGHT = 0.3
"""How much a session's match with the request adds to each of its turns."""

SPEAKER_WEIGHT = 0.5
"""By how much a request that names one speaker raises that speaker's turns (by half)."""

_PENDING_PASSAGES = 1024
"""Passages of pending turns kept rendered per thread."""

_TRUST = {
    "human": TrustLevel.USER_CLAIMED,
    "system": TrustLevel.USER_CLAIMED,
    "ai": TrustLevel.MODEL_INFERRED,
    "tool": TrustLevel.TOOL_OBSERVED,
}
_ROLE_LABEL = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system"}


def _session_prior(transcript: Transcript, scores: Scores) -> Scores:
    # A session's relevance: its best turn's score, relative to the best session.
    starts = transcript.session_starts(len(scores))
    best = np.maximum.reduceat(np.clip(scores, 0, None), starts)
    sizes = np.diff(np.append(starts, len(scores)))
    return normalize_max(np.repeat(best, sizes))


def _dated(transcript: Transcript, size: int) -> Scores:
    # Worked out once per archived turn (kept on the archived transcript), and
    # per request for pending turns.
    settled = transcript.settled
    with transcript.lock:
        flags = settled.derived.get("dated")
        if not isinstance(flags, list) or len(flags) > len(settled):
            flags = []
        flags += [1.0 if mentions_time(t.content) else 0.0 for t in settled.turns[len(flags) :]]
        settled.derived["dated"] = flags
    pending = [_mentions_time(t.content) for t in transcript.turns[transcript.archived :]]
    return np.asarray((flags[: transcript.archived] + pending)[:size], dtype=np.float64)


@functools.lru_cache(maxsize=1024)
def _mentions_time(text: str) -> float:
    # A pending turn is checked at every request until it is archived.
    return 1.0 if mentions_time(text) else 0.0


def _speaker_turns(transcript: Transcript, size: int, query: str) -> Scores | None:
    # 1.0 for each turn of the one speaker the request names, None when it names
    # no speaker or several ("Did Ana and Bo meet?" favours neither).
    named = transcript.named_in(query)
    if len(named) != 1:
        return None
    return np.asarray([t.speaker == named[0] for t in transcript.turns[:size]], dtype=np.float64)


def rank_turns(
    transcript: Transcript,
    scores: Scores,
    query: str,
    *,
    session_weight: float = SESSION_WEIGHT,
    speaker_weight: float = SPEAKER_WEIGHT,
) -> list[int]:
    """Order turn positions best first, from a retriever's scores.

    Args:
        transcript: The thread's turns.
        scores: One score per turn to rank (a prefix of the transcript).
        query: The request ("when" questions favour dated turns, a speaker's
            name that speaker's turns, a named day or month the turns said then).
        session_weight: How much the session's match adds.
        speaker_weight: By how much the turns of the one speaker the request
            names are raised.

    Returns:
        Positions of the turns that match at all, best first; ties go to the
        more recent turn.

    Example:
        >>> from memorygraph.records import ArchivedTurn
        >>> transcript = Transcript(("acme", "ana", "t1"))
        >>> transcript.extend([ArchivedTurn(id=f"m{i}", seq=i, role="human", content=c,
        ...     created_at="2024-03-01", summary_version=1)
        ...     for i, c in enumerate(["we met in May", "we met", "lunch"])])
        >>> rank_turns(transcript, np.array([0.5, 0.5, 0.0]), "When did we meet?")
        [0, 1]
    """
    size = len(scores)
    if size == 0:
        return []
    total = np.asarray(scores, dtype=np.float64)
    speaker = _speaker_turns(transcript, size, query) if speaker_weight else None
    if speaker is not None:
        total = total * (1.0 + speaker_weight * speaker)
    total = favour_period(total, transcript.times, query)
    if session_weight:
        total = total + session_weight * _session_prior(transcript, total)
    total = favour_dated(total, _dated(transcript, size), query)
    positions = np.arange(size)
    order = np.lexsort((-positions, -total))  # best score first, then the newest
    ranked: list[int] = order[np.asarray(scores)[order] > 0].tolist()
    return ranked


def _line(turn: ArchivedTurn) -> str:
    who = turn.speaker or _ROLE_LABEL.get(turn.role, turn.role)
    text = turn.content
    if not text.strip() and turn.tool_calls:
        text = "[called " + ", ".join(str(call.get("name", "?")) for call in turn.tool_calls) + "]"
    return f"{who}: {text}"


def _rendered(turn: ArchivedTurn) -> tuple[object, ...]:
    # What a passage shows of a turn, and its id (for the audit).
    calls = tuple(str(call.get("name", "?")) for call in turn.tool_calls)
    return (turn.id, turn.role, turn.speaker, turn.content, turn.created_at, calls)


def _date_label(transcript: Transcript, seq: int) -> str:
    moment = transcript.times[seq]
    return format_timestamp(moment) if moment is not None else ""


def passage_items(
    transcript: Transcript,
    passages: Sequence[Passage],
    *,
    counter: TokenCounter,
    scores: Scores | None = None,
    retriever: str = "",
) -> list[ContextItem]:
    """Make one ``recalled`` item per passage.

    Each item's id is ``recall:<first>-<last>`` (positions in the thread), its
    ``rank`` the passage's rank. Its metadata holds the date shown in its
    header, its session, its first and last positions (``seq``, ``end``: items
    render in the order they were said, under one header per session), the ids
    of its turns for the audit, and the hit's score. The passages of one session
    share a header, so only the best of them (it is packed first) counts the
    header's tokens.

    Args:
        transcript: The thread's turns.
        passages: From `memorygraph.retrieval.passages.expand_hits`.
        counter: Counts each item as it renders.
        scores: The hits' scores, recorded in the metadata.
        retriever: The retriever's name, recorded in the metadata.

    Returns:
        The items, in the passages' order.
    """
    items: list[ContextItem] = []
    sessions: set[int] = set()
    for passage in passages:
        item, opening, following = _passage_item(transcript, passage, counter)
        session = transcript.sessions[passage.first]
        metadata = dict(item.metadata)
        if scores is not None:
            metadata["score"] = round(float(scores[passage.hit]), 4)
        if retriever:
            metadata["retriever"] = retriever
        # Passages of one session render under one header: the best of them (it
        # is packed first) pays for it.
        tokens = following if session in sessions else opening
        sessions.add(session)
        update = {"rank": passage.rank, "metadata": metadata, "tokens": tokens}
        items.append(item.model_copy(update=update))
    return items


def _passage_item(
    transcript: Transcript, passage: Passage, counter: TokenCounter
) -> tuple[ContextItem, int, int]:
    # A passage renders the same for every request: made and counted once, as
    # the first passage of its session's block and as a later one.
    # Passages of pending turns are kept apart, by everything they render
    # (the same positions hold other turns in another branch of the thread,
    # and a message replaced under its id, as `add_messages` does, says
    # something else), and only the newest `_PENDING_PASSAGES` of them.
    turns = [transcript.turns[seq] for seq in passage.positions]
    archived = passage.last < transcript.archived
    key: tuple[object, ...] = (passage.first, passage.last, counter.encoding_name)
    if not archived:
        key += (transcript.sessions[passage.first], *map(_rendered, turns))
    with transcript.lock:
        cache: dict[tuple[object, ...], tuple[ContextItem, int, int]]
        cache = transcript.settled.derived.setdefault("passages" if archived else "pending", {})
        cached = cache.get(key)
    if cached is not None:
        return cached
    trusts = {_TRUST.get(turn.role) for turn in turns}
    date = _date_label(transcript, passage.first)
    metadata: dict[str, object] = {"date": date} if date else {}
    metadata |= {
        "session": transcript.sessions[passage.first],
        "seq": passage.first,
        "end": passage.last,
        "turn_ids": [turn.id for turn in turns],
    }
    item = ContextItem(
        id=f"recall:{passage.first}-{passage.last}",
        kind=ItemKind.RECALLED,
        content="\n".join(_line(turn) for turn in turns),
        priority=Priority.HIGH,
        tokens=0,
        source=f"archive:{passage.first}-{passage.last}",
        trust_level=trusts.pop() if len(trusts) == 1 else None,
        metadata=metadata,
    )
    opening, following = recalled_tokens(item, counter)
    entry = (item, opening, following)
    with transcript.lock:
        cache[key] = entry
        while not archived and len(cache) > _PENDING_PASSAGES:
            cache.pop(next(iter(cache)))
    return entry


def _select(
    transcript: Transcript,
    scores: Scores,
    query: str,
    *,
    config: MemoryConfig,
    counter: TokenCounter,
    retriever: Retriever,
) -> list[ContextItem]:
    ranked = rank_turns(transcript, scores, query)
    # Candidates stop at about the whole budget: no package could use more.
    chosen: list[Passage] = []
    spent = 0
    sessions: set[int] = set()
    for passage in iter_passages(transcript, ranked, neighbours=config.recall_neighbours):
        if spent >= config.available_tokens:
            break
        _, opening, following = _passage_item(transcript, passage, counter)
        session = transcript.sessions[passage.first]
        spent += following if session in sessions else opening
        sessions.add(session)
        chosen.append(passage)
    return passage_items(
        transcript, chosen, counter=counter, scores=scores, retriever=retriever.name
    )


def _clears_floor(
    transcript: Transcript, query: str, retriever: Retriever, config: MemoryConfig
) -> bool:
    # Checked before scoring: when no turn says much of what the request asks,
    # whatever would rank best is chance, and the budget is better left to the
    # rest of the package. A request that names someone who spoke in the thread
    # refers to the thread whatever words it uses ("What attributes describe
    # John?"), and a retriever that does not measure coverage is not gated.
    if transcript.named_in(query):
        return True
    gauge = getattr(retriever, "coverage", None)
    coverage = gauge(transcript, query) if callable(gauge) else None
    return coverage is None or coverage >= config.recall_min_coverage


def _with_pending(
    transcript: Transcript, archived: int, pending: Sequence[BaseMessage]
) -> Transcript:
    # The archived turns this state knows of, then the window's turns after them.
    archived = min(archived, len(transcript))
    if not pending and archived == len(transcript):
        return transcript
    turns = to_archived(pending, start_seq=archived, summary_version=0)
    return transcript.with_pending(turns, archived=archived)


def recall_items(
    store: BaseStore,
    thread: ThreadKey,
    query: str,
    *,
    archived: int,
    last_id: str | None,
    retriever: Retriever,
    config: MemoryConfig,
    counter: TokenCounter,
    pending: Sequence[BaseMessage] = (),
    digest: str | None = None,
) -> list[ContextItem]:
    """Recall turns relevant to the request, as ``recalled`` candidates.

    Args:
        store: The store holding the thread's transcript archive.
        thread: ``(tenant_id, user_id, thread_id)``: only this thread's archive is read.
        query: The current request.
        archived: How many turns the archive holds for the caller's state
            (``state["summary"].covered_turns``).
        last_id: The id of the last archived turn (``summary.last_updated_turn_id``).
        retriever: Scores the turns.
        config: ``recall_neighbours`` and the budget that bounds the candidates.
        counter: Counts each item's tokens.
        pending: The working window's turns before the request, oldest first:
            ranked with the archived turns, so that a turn the recent-turn
            share cannot show can still be recalled before it is folded (the
            packer never shows one turn twice). Only once the thread has an
            archive, whose statistics they are scored by.
        digest: The archived turns' digest (``summary.archive_digest``): the
            process's copy of the archive is used only if its turns match it
            (without one, only if its turn at ``archived - 1`` is ``last_id``).

    Returns:
        Candidate items, best first; the packer decides which fit.
    """
    if archived <= 0 or not query.strip():
        return []
    transcript = load_transcript(store, thread, archived=archived, last_id=last_id, digest=digest)
    if not len(transcript):
        return []
    transcript = _with_pending(transcript, archived, pending)
    if not _clears_floor(transcript, query, retriever, config):
        return []
    scores = retriever.score(transcript, query, store=store)
    return _select(
        transcript,
        scores,
        query,
        config=config,
        counter=counter,
        retriever=retriever,
    )


async def arecall_items(
    store: BaseStore,
    thread: ThreadKey,
    query: str,
    *,
    archived: int,
    last_id: str | None,
    retriever: Retriever,
    config: MemoryConfig,
    counter: TokenCounter,
    pending: Sequence[BaseMessage] = (),
    digest: str | None = None,
) -> list[ContextItem]:
    """Async twin of `recall_items`."""
    if archived <= 0 or not query.strip():
        return []
    transcript = await aload_transcript(
        store, thread, archived=archived, last_id=last_id, digest=digest
    )
    if not len(transcript):
        return []
    transcript = _with_pending(transcript, archived, pending)
    if not _clears_floor(transcript, query, retriever, config):
        return []
    scores = await retriever.ascore(transcript, query, store=store)
    return _select(
        transcript,
        scores,
        query,
        config=config,
        counter=counter,
        retriever=retriever,
    )
