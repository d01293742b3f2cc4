"""`Transcript`: a thread's archived turns, held in process and grown as the archive grows.

The store's transcript archive is the source of truth. Reading all of it for
every request would cost a store round trip per turn ever folded, so each
process keeps a copy per thread and reads only what is new: the checkpoint
says how many turns the archive holds for this state (the summary's
``covered_turns``) and their digest (``archive_digest``), and the copy
catches up with one batched read when it is behind. When the copy's turns do
not have that digest (another branch of a forked thread wrote the archive, or
another process forgot the thread and a new conversation on its id reused the
message ids), the copy is read again from the store. So the copy is correct
in any process, after a restart, for forks, and after a forget.

Copies are kept per store object and per ``(tenant_id, user_id, thread_id)``:
a lookup can only ever return the turns of the namespace it names.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph.store.archive import archive_turns
    >>> store = InMemoryStore()
    >>> thread = ("acme", "ana", "t1")
    >>> _ = archive_turns(store, thread, [HumanMessage("hi", id="h1", name="Ana")],
    ...                   start_seq=0, summary_version=1)
    >>> transcript = load_transcript(store, thread, archived=1, last_id="h1")
    >>> [(turn.speaker, turn.content) for turn in transcript.turns]
    [('Ana', 'hi')]
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import BaseStore

from memorygraph.records import ArchivedTurn
from memorygraph.store.archive import (
    archive_digest,
    aread_archive,
    aread_archive_range,
    read_archive,
    read_archive_range,
)
from memorygraph.timestamps import parse_timestamp

__all__ = [
    "SESSION_GAP",
    "Transcript",
    "TranscriptCache",
    "aload_transcript",
    "load_transcript",
    "transcript_cache",
]

ThreadKey = tuple[str, str, str]

SESSION_GAP = timedelta(minutes=30)
"""A pause longer than this between two turns starts a new session."""


@dataclass(eq=False)
class Transcript:
    """A thread's archived turns, oldest first, with what retrieval derives from them.

    Attributes:
        thread: ``(tenant_id, user_id, thread_id)``.
        turns: The archived turns; ``turns[i].seq == i``.
        times: When each turn was said, when its ``created_at`` can be read.
        sessions: The session each turn belongs to, counting from 0. A session
            ends where the date changes or the conversation pauses for more
            than `SESSION_GAP`.
        derived: What retrievers keep between requests (token lists, vectors),
            under a key of their own. Cleared when the transcript is read again.
        lock: Held while the transcript or ``derived`` changes.
        base: For a transcript made by `with_pending`, the archived transcript
            it extends (retrievers keep what they derive from archived turns
            there); None for an archived transcript.
    """

    thread: ThreadKey
    turns: list[ArchivedTurn] = field(default_factory=list)
    times: list[datetime | None] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    derived: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    base: Transcript | None = field(default=None, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)  # first position of each session
    _archived: int | None = field(default=None, repr=False)
    _chain: list[str] = field(default_factory=list, repr=False)  # the digest after each turn

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def archived(self) -> int:
        """How many of the turns, from the first, are archived; the rest are pending."""
        return len(self.turns) if self._archived is None else self._archived

    @property
    def settled(self) -> Transcript:
        """The archived transcript: `base` for a transcript with pending turns, else itself."""
        return self if self.base is None else self.base

    def with_pending(self, turns: Sequence[ArchivedTurn], *, archived: int) -> Transcript:
        """The first ``archived`` turns, then turns that are not archived yet.

        Recall ranks the working window's turns with the archive's: a turn the
        recent-turn share cannot show is not lost until the next fold. The new
        transcript is made per request and shares this one's lock; what
        retrievers derive from the archived turns stays cached here, on `base`.

        Args:
            turns: The pending turns, numbered from ``archived`` on.
            archived: How many of this transcript's turns the caller's state
                has archived (a fork may hold fewer than this transcript).

        Returns:
            A transcript of ``archived + len(turns)`` turns whose `base` is this one.

        Raises:
            ValueError: When a pending turn's position is not the next one.

        Example:
            >>> from memorygraph.records import ArchivedTurn
            >>> def turn(i, text):
            ...     return ArchivedTurn(id=f"m{i}", seq=i, role="human", content=text,
            ...                         created_at="2024-03-01T10:00", summary_version=1)
            >>> archive = Transcript(("acme", "ana", "t1"))
            >>> archive.extend([turn(0, "hi"), turn(1, "my cat is Miso")])
            >>> both = archive.with_pending([turn(2, "Miso is asleep")], archived=2)
            >>> len(both), both.archived, both.settled is archive, len(archive)
            (3, 2, True, 2)
        """
        with self.lock:
            stop = min(archived, len(self.turns))
            view = Transcript(
                self.thread,
                turns=self.turns[:stop],
                times=self.times[:stop],
                sessions=self.sessions[:stop],
                lock=self.lock,
                base=self,
                _starts=[start for start in self._starts if start < stop],
                _archived=stop,
            )
        view.extend(turns)
        return view

    def extend(self, turns: Sequence[ArchivedTurn]) -> None:
        """Append turns that follow on from the last one held.

        Raises:
            ValueError: When a turn's position is not the next one.
        """
        for turn in turns:
            if turn.seq != len(self.turns):
                raise ValueError(f"turn {turn.id} is at position {turn.seq}, not {len(self.turns)}")
            moment = parse_timestamp(turn.created_at)
            previous = self.times[-1] if self.times else None
            session = self.sessions[-1] if self.sessions else 0
            if self.turns and _new_session(_comparable(previous), _comparable(moment)):
                session += 1
            if not self._starts or session != self.sessions[-1]:
                self._starts.append(len(self.turns))
            self.turns.append(turn)
            self.times.append(moment)
            self.sessions.append(session)

    def digest(self, size: int) -> str:
        """`memorygraph.store.archive.archive_digest` of the first ``size`` turns.

        Each turn's digest is computed once and kept.

        Raises:
            IndexError: ``size`` is more than the turns held.
        """
        if size > len(self.turns):
            raise IndexError(f"{size} turns asked for, {len(self.turns)} held")
        with self.lock:
            chain = self._chain
            while len(chain) < size:
                chain.append(archive_digest(chain[-1] if chain else None, [self.turns[len(chain)]]))
            return chain[size - 1] if size else ""

    def named_in(self, text: str) -> list[str]:
        """The speakers of this transcript whose names the text holds as whole words.

        The archived turns' speakers are gathered once (kept on `settled`), the
        pending turns' at each call.

        Example:
            >>> from memorygraph.records import ArchivedTurn
            >>> transcript = Transcript(("acme", "ana", "t1"))
            >>> transcript.extend([ArchivedTurn(id=f"m{i}", seq=i, role="human", speaker=who,
            ...     content="hi", created_at="2024-03-01T10:00", summary_version=1)
            ...     for i, who in enumerate(["Ana", "Bo"])])
            >>> transcript.named_in("What did Bo's sister say to Ana?"), transcript.named_in("Bob?")
            (['Ana', 'Bo'], [])
        """
        settled = self.settled
        with self.lock:
            known = settled.derived.get("speakers")
            if not isinstance(known, tuple) or known[0] != len(settled):
                names = frozenset(t.speaker for t in settled.turns if t.speaker)
                known = settled.derived["speakers"] = (len(settled), names)
        names = known[1] | {t.speaker for t in self.turns[self.archived :] if t.speaker}
        return [name for name in sorted(names) if re.search(rf"\b{re.escape(name)}\b", text)]

    def session_starts(self, size: int | None = None) -> list[int]:
        """The first position of each session, among the first ``size`` turns."""
        stop = len(self) if size is None else size
        return [start for start in self._starts if start < stop]

    def session_span(self, seq: int) -> tuple[int, int]:
        """Return the first and last position of the session that holds ``seq``."""
        session = self.sessions[seq]
        first = self._starts[session]
        last = self._starts[session + 1] - 1 if session + 1 < len(self._starts) else len(self) - 1
        return first, last


def _comparable(moment: datetime | None) -> datetime | None:
    # Naive and aware times cannot be compared; a naive time is taken as UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _new_session(previous: datetime | None, moment: datetime | None) -> bool:
    if previous is None or moment is None:
        return False
    return moment.date() != previous.date() or abs(moment - previous) > SESSION_GAP


class TranscriptCache:
    """Transcripts per store and thread, least recently used dropped first.

    A thread's copy costs 4 to 7 kB an archived turn once recall uses it: the
    turns, the lexical index's postings and scores, and the passages recall has
    rendered (at most about one a turn). So the cache is bounded by turns as
    well as by threads, and many long threads cannot take a process's memory:
    the default, 50,000 turns, is at most about 350 MB a store. The thread a
    request is for is always kept. A thread that was dropped is read again
    from the store when it is next asked for, at the cost of one archive read
    and one index build.

    The nodes read through one cache per process, `transcript_cache()`.

    Args:
        max_threads: The most threads kept per store.
        max_turns: The most turns kept per store, over all its threads.

    Raises:
        ValueError: A bound is not a whole number of at least 1.

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from memorygraph.store.archive import archive_turns
        >>> from langchain_core.messages import HumanMessage
        >>> store, cache = InMemoryStore(), TranscriptCache(max_turns=3)
        >>> for name in ("t1", "t2"):
        ...     _ = archive_turns(store, ("acme", "ana", name),
        ...                       [HumanMessage(f"{name} {i}", id=f"{name}-{i}") for i in range(2)],
        ...                       start_seq=0, summary_version=1)
        ...     _ = cache.get(store, ("acme", "ana", name), archived=2, last_id=f"{name}-1")
        >>> cache.held(store)  # two threads of two turns are over 3 turns: t1 went
        [('acme', 'ana', 't2')]
    """

    def __init__(self, max_threads: int = 256, max_turns: int = 50_000) -> None:
        self._stores: weakref.WeakKeyDictionary[BaseStore, OrderedDict[ThreadKey, Transcript]]
        self._stores = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._forgets = 0  # how many `forget` calls: a request that began before one keeps nothing
        self._max_threads = self._max_turns = 1
        self.limit(max_threads=max_threads, max_turns=max_turns)

    def limit(self, *, max_threads: int | None = None, max_turns: int | None = None) -> None:
        """Set the bounds (None keeps one as it is); copies beyond them go at once.

        Raises:
            ValueError: A bound is not a whole number of at least 1.

        Example:
            >>> from memorygraph.retrieval import transcript_cache
            >>> transcript_cache().limit(max_turns=10_000)  # a small server: about 70 MB a store
            >>> transcript_cache().limit(max_turns=50_000)  # the default again
        """
        threads = self._max_threads if max_threads is None else max_threads
        turns = self._max_turns if max_turns is None else max_turns
        for name, value in (("max_threads", threads), ("max_turns", turns)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        with self._lock:
            self._max_threads, self._max_turns = threads, turns
            for held in self._stores.values():
                self._trim(held)

    def held(self, store: BaseStore) -> list[ThreadKey]:
        """The threads whose transcripts are kept for ``store``, least recently used first."""
        with self._lock:
            return list(self._stores.get(store, ()))

    def forget(
        self,
        tenant_id: str | None = None,
        user_id: str | None = None,
        thread_id: str | None = None,
    ) -> int:
        """Drop the copies of the threads that match, in every store (None matches any).

        `memorygraph.admin.forget_thread`, `forget_user` and `forget_tenant`
        call this once the store's archive is deleted, so this process neither
        keeps nor recalls what was forgotten, even when a new conversation
        reuses the thread's id and its messages' ids.

        Returns:
            How many copies were dropped.
        """
        wanted = (tenant_id, user_id, thread_id)

        def matches(key: ThreadKey) -> bool:
            return all(part in (None, held) for part, held in zip(wanted, key, strict=True))

        dropped = 0
        with self._lock:
            self._forgets += 1
            for threads in self._stores.values():
                for key in [key for key in threads if matches(key)]:
                    del threads[key]
                    dropped += 1
        return dropped

    def _trim(self, threads: OrderedDict[ThreadKey, Transcript]) -> None:
        # With the lock held: the least recently used go while a bound is
        # exceeded; the most recently used (the thread in use) always stays.
        turns = sum(len(held) for held in threads.values())
        while len(threads) > 1 and (len(threads) > self._max_threads or turns > self._max_turns):
            _, dropped = threads.popitem(last=False)
            turns -= len(dropped)

    def _slot(self, store: BaseStore, thread: ThreadKey) -> tuple[Transcript, int]:
        with self._lock:
            threads = self._stores.setdefault(store, OrderedDict())
            transcript = threads.get(thread)
            if transcript is None:
                transcript = threads[thread] = Transcript(thread)
            return transcript, self._forgets

    def _keep(
        self, store: BaseStore, thread: ThreadKey, transcript: Transcript, forgets: int
    ) -> Transcript:
        # After the request's reads: the thread becomes the most recently
        # used, and the least recently used go while the bounds are exceeded.
        # What a request read before a forget ran is not kept after it.
        with self._lock:
            if forgets != self._forgets:
                return transcript
            threads = self._stores.setdefault(store, OrderedDict())
            threads[thread] = transcript
            threads.move_to_end(thread)
            self._trim(threads)
        return transcript

    def get(
        self,
        store: BaseStore,
        thread: ThreadKey,
        *,
        archived: int,
        last_id: str | None,
        digest: str | None = None,
    ) -> Transcript:
        """Return the thread's transcript, holding at least ``archived`` turns if the store does.

        The copy is read again from the store when its first ``archived`` turns
        are not the caller's: their digest is not ``digest`` or, without one,
        the turn at ``archived - 1`` is not ``last_id``.

        Args:
            store: The store that holds the archive.
            thread: ``(tenant_id, user_id, thread_id)``.
            archived: How many turns the archive holds for the caller's state.
            last_id: The id of the turn at position ``archived - 1``.
            digest: `memorygraph.store.archive.archive_digest` of those turns
                (``SessionSummary.archive_digest``); None checks ``last_id`` only.

        Returns:
            The transcript. It may hold more turns than ``archived`` (a fork of
            an older checkpoint): callers only use the first ``archived``.
        """
        transcript, forgets = self._slot(store, thread)
        with transcript.lock:
            if _behind(transcript, archived):
                transcript.extend(read_archive_range(store, thread, len(transcript), archived))
            agrees = _agrees(transcript, archived, last_id, digest)
        if not agrees:
            transcript = _read_again(thread, read_archive(store, thread))
        return self._keep(store, thread, transcript, forgets)

    async def aget(
        self,
        store: BaseStore,
        thread: ThreadKey,
        *,
        archived: int,
        last_id: str | None,
        digest: str | None = None,
    ) -> Transcript:
        """Async twin of `get`."""
        transcript, forgets = self._slot(store, thread)
        if _behind(transcript, archived):
            turns = await aread_archive_range(store, thread, len(transcript), archived)
            with transcript.lock:
                if turns and turns[0].seq == len(transcript):
                    transcript.extend(turns)
        if not _agrees(transcript, archived, last_id, digest):
            transcript = _read_again(thread, await aread_archive(store, thread))
        return self._keep(store, thread, transcript, forgets)


def _read_again(thread: ThreadKey, turns: list[ArchivedTurn]) -> Transcript:
    fresh = Transcript(thread)
    # Only the turns that follow on from position 0: after a gap, what the
    # archive holds is not known to belong to this branch of the thread.
    fresh.extend([turn for position, turn in enumerate(turns) if turn.seq == position])
    return fresh


def _behind(transcript: Transcript, archived: int) -> bool:
    return len(transcript) < archived


def _agrees(transcript: Transcript, archived: int, last_id: str | None, digest: str | None) -> bool:
    if archived == 0 or (last_id is None and digest is None):
        return True
    if len(transcript) < archived:
        return False
    if digest is not None:
        return transcript.digest(archived) == digest
    return transcript.turns[archived - 1].id == last_id


_DEFAULT_CACHE = TranscriptCache()


def transcript_cache() -> TranscriptCache:
    """The process's transcript cache, the one `load_transcript` and the nodes read through.

    Example:
        >>> transcript_cache().limit(max_turns=10_000)  # bound it lower on a small server
        >>> transcript_cache().limit(max_turns=50_000)  # the default
    """
    return _DEFAULT_CACHE


def load_transcript(
    store: BaseStore,
    thread: ThreadKey,
    *,
    archived: int,
    last_id: str | None = None,
    digest: str | None = None,
) -> Transcript:
    """Return a thread's transcript from the process-wide cache, caught up with the store.

    See `TranscriptCache.get`.
    """
    return _DEFAULT_CACHE.get(store, thread, archived=archived, last_id=last_id, digest=digest)


async def aload_transcript(
    store: BaseStore,
    thread: ThreadKey,
    *,
    archived: int,
    last_id: str | None = None,
    digest: str | None = None,
) -> Transcript:
    """Async twin of `load_transcript`."""
    return await _DEFAULT_CACHE.aget(
        store, thread, archived=archived, last_id=last_id, digest=digest
    )
