r"""Resolve what "the second one", "remove it", "do that again" or "same as before" mean.

Such phrases are not executable until they are resolved
against recent turns, entities, tool calls and decisions, and the model must
not guess when several candidates fit. `resolve_references` is pure and
deterministic; every phrase it finds gives a `ResolvedReference`, resolved or
marked ``requires_clarification``. The packer turns the latter into a CRITICAL
``clarification`` item, so the model is told to ask.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> history = [HumanMessage("Find me a hotel in Kyoto.", id="h1"),
    ...            AIMessage("Options:\n1. Hotel Sakura\n2. Hotel Ume\n3. Hotel Matsu", id="a1")]
    >>> [ref] = resolve_references(HumanMessage("Book the second one.", id="h2"), history=history)
    >>> ref.entity_id, ref.requires_clarification
    ('Hotel Ume', False)
    >>> history = [HumanMessage("Compare case C-1042 with case C-2077.", id="h1"),
    ...            AIMessage("C-1042 is older than C-2077.", id="a1")]
    >>> [ref] = resolve_references(HumanMessage("Close it.", id="h2"), history=history)
    >>> ref.requires_clarification, ref.candidates
    (True, ['C-1042', 'C-2077'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from memorygraph.facts.keys import CHOICE_KEYS
from memorygraph.records import Fact, ResolvedReference, TaskState
from memorygraph.turns import message_id, message_text

__all__ = ["resolve_references"]

_ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "last": -1,
}
_ORDINAL = re.compile(
    r"\b(?:(?P<phrase>the\s+(?P<ord>first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|"
    r"5th|6th)(?:\s+(?P<noun>one|option|item|choice|entry|[a-z]+))?)|(?P<phrase2>(?:option|"
    r"number|item|choice|no\.?)\s*#?(?P<num>\d{1,2})))\b",
    re.IGNORECASE,
)
# Only an imperative that opens a sentence ("Close it.", "OK, remove that"): in
# "here are my notes, keep them in mind" the pronoun points inside the request.
_PRONOUN_ACTION = re.compile(
    r"(?:^|(?<=[.!?;:\n])\s*)(?:(?:ok(?:ay)?|please|now|then|and|just|so|yes|right|fine)"
    r"[,!]?\s+)*(?P<phrase>(?:remove|delete|cancel|close|drop|undo|change|update|move|book|"
    r"send|archive|open|reopen|escalate|edit|fix|approve|reject|use|pick|choose|add|forget|"
    r"rename|replace|share|print|buy|order|confirm|check)\s+(?:it|that|this|them|that\s+one|"
    r"this\s+one))\b(?!\s+(?:again|one))",
    re.IGNORECASE,
)
_AGAIN = re.compile(
    r"\b(?P<phrase>(?:do|run|try|repeat|say)\s+(?:it|that|this)(?:\s+one)?\s+again|repeat\s+"
    r"(?:that|it|this)|one\s+more\s+time|do\s+the\s+same(?:\s+thing)?(?:\s+again)?)\b",
    re.IGNORECASE,
)
_SAME = re.compile(
    r"\b(?P<phrase>same\s+as\s+(?:before|last\s+time|usual|earlier)|the\s+usual|like\s+last\s+"
    r"time|as\s+before)\b",
    re.IGNORECASE,
)
# Ordinals that count something other than a list's items.
_NOT_LIST_NOUNS = frozenset(
    "time times day days week weeks month months year years place person thing step page "
    "chapter minute minutes hour hours half quarter of".split()
)
_NUMBERED = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+(?P<item>.+?)\s*$", re.MULTILINE)
_INLINE = re.compile(r":\s*(?P<items>[^:\n]+?(?:,\s*|\s+)(?:or|and)\s+[^.\n?!]+)")
_ENTITY = re.compile(r"\b[A-Z][A-Z0-9]*-\d[\w-]*\b|#\d{3,}\b")
_CLEAN_ITEM = re.compile(r"^\*\*|\*\*$|[.;:]$")
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower())}


def _lists(text: str) -> list[list[str]]:
    """The lists a message shows: numbered or bulleted blocks, or "a, b or c" after a colon."""
    blocks: list[list[str]] = []
    current: list[str] = []
    last_end = -1
    for match in _NUMBERED.finditer(text):
        gap = text[last_end : match.start()] if last_end >= 0 else ""
        if current and gap.strip():
            blocks.append(current)
            current = []
        current.append(_CLEAN_ITEM.sub("", match["item"]).strip())
        last_end = match.end()
    if current:
        blocks.append(current)
    if not blocks:
        for match in _INLINE.finditer(text):
            items = [
                p.strip()
                for p in re.split(r",\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", match["items"])
            ]
            items = [_CLEAN_ITEM.sub("", item).strip() for item in items if item.strip()]
            if len(items) >= 2:
                blocks.append(items)
    return [block for block in blocks if len(block) >= 2]


def _ordinal(match: re.Match[str], history: Sequence[BaseMessage]) -> ResolvedReference:
    phrase = (match["phrase"] or match["phrase2"]).strip()
    position = int(match["num"]) if match["num"] else _ORDINALS[match["ord"].lower()]
    for turn in reversed(history):
        lists = _lists(message_text(turn))
        if not lists:
            continue
        noun = (match["noun"] or "").lower()
        if len(lists) > 1 and noun not in ("", "one", "option", "item", "choice", "entry"):
            named = [items for items in lists if any(noun in item.lower() for item in items)]
            lists = named or lists
        if len(lists) > 1:
            options = [
                items[position - 1] if position > 0 else items[-1]
                for items in lists
                if position <= len(items)
            ]
            return ResolvedReference(
                phrase=phrase,
                entity_type="list_item",
                confidence=0.3,
                requires_clarification=True,
                reason=f"turn {message_id(turn)} shows {len(lists)} lists; which one is meant?",
                candidates=options,
            )
        items = lists[0]
        if position > len(items):
            return ResolvedReference(
                phrase=phrase,
                entity_type="list_item",
                requires_clarification=True,
                reason=f"the latest list (turn {message_id(turn)}) has only {len(items)} items",
                candidates=items,
            )
        index = position - 1 if position > 0 else len(items) - 1
        return ResolvedReference(
            phrase=phrase,
            entity_type="list_item",
            entity_id=items[index],
            confidence=0.9,
            reason=f"item {index + 1} of the list in turn {message_id(turn)}",
        )
    return ResolvedReference(
        phrase=phrase,
        entity_type="list_item",
        requires_clarification=True,
        reason="no recent turn shows a list to count in",
    )


def _entities(text: str) -> list[str]:
    found: list[str] = []
    for entity in _ENTITY.findall(text):
        if entity not in found:
            found.append(entity)
    return found


def _last_exchange(history: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The latest assistant turn and the user turn before it."""
    exchange: list[BaseMessage] = []
    for turn in reversed(history):
        if turn.type in ("ai", "tool") and not any(t.type == "human" for t in exchange):
            exchange.append(turn)
        elif turn.type == "human":
            exchange.append(turn)
            break
    return list(reversed(exchange))


def _pronoun(
    match: re.Match[str], history: Sequence[BaseMessage], task: TaskState | None
) -> ResolvedReference:
    phrase = match["phrase"]
    exchange = _last_exchange(history)
    candidates: list[str] = []
    for turn in exchange:
        for entity in _entities(message_text(turn)):
            if entity not in candidates:
                candidates.append(entity)
    if not candidates and exchange:
        for turn in reversed(exchange):
            lists = _lists(message_text(turn))
            if lists:
                candidates = [item for items in lists for item in items]
                break
    source = "the last exchange"
    if not candidates and task is not None and task.entity_ids:
        candidates = sorted(set(task.entity_ids.values()))
        source = "the task's entities"
    if len(candidates) == 1:
        return ResolvedReference(
            phrase=phrase,
            entity_type="entity",
            entity_id=candidates[0],
            confidence=0.8 if source == "the last exchange" else 0.6,
            reason=f"the only entity in {source}",
        )
    reason = (
        f"{len(candidates)} entities in {source} could be meant"
        if candidates
        else "nothing recent for it to refer to"
    )
    return ResolvedReference(
        phrase=phrase,
        entity_type="entity",
        confidence=0.2 if candidates else 0.0,
        requires_clarification=True,
        reason=reason,
        candidates=candidates,
    )


def _again(match: re.Match[str], history: Sequence[BaseMessage]) -> ResolvedReference:
    phrase = match["phrase"]
    for turn in reversed(history):
        if isinstance(turn, AIMessage) and turn.tool_calls:
            names = sorted({call["name"] for call in turn.tool_calls})
            if len(names) == 1:
                return ResolvedReference(
                    phrase=phrase,
                    entity_type="tool_call",
                    entity_id=names[0],
                    confidence=0.8,
                    reason=f"the latest tool call, in turn {message_id(turn)}",
                )
            return ResolvedReference(
                phrase=phrase,
                entity_type="tool_call",
                confidence=0.3,
                requires_clarification=True,
                reason=f"turn {message_id(turn)} called {len(names)} different tools",
                candidates=names,
            )
        if isinstance(turn, HumanMessage) and not (
            _AGAIN.search(message_text(turn)) or _SAME.search(message_text(turn))
        ):
            return ResolvedReference(
                phrase=phrase,
                entity_type="request",
                entity_id=message_id(turn),
                confidence=0.7,
                reason=f"the previous request: {_clip(message_text(turn))!r}",
            )
    return ResolvedReference(
        phrase=phrase,
        entity_type="request",
        requires_clarification=True,
        reason="there is no earlier request to repeat",
    )


def _same(match: re.Match[str], request: str, facts: Sequence[Fact]) -> ResolvedReference:
    phrase = match["phrase"]
    choices = [f for f in facts if f.status == "active" and f.key in CHOICE_KEYS]
    if len(choices) > 1:
        wanted = _words(request)
        scored = [(len(wanted & _words(f.value)), f) for f in choices]
        best = max(score for score, _ in scored)
        if best > 0:
            choices = [f for score, f in scored if score == best]
    if len(choices) == 1:
        return ResolvedReference(
            phrase=phrase,
            entity_type=choices[0].key,
            entity_id=choices[0].value,
            confidence=0.7,
            reason=f"the earlier {choices[0].key} ({choices[0].id})",
        )
    return ResolvedReference(
        phrase=phrase,
        entity_type="decision",
        confidence=0.2 if choices else 0.0,
        requires_clarification=True,
        reason=(
            f"{len(choices)} earlier choices could be meant"
            if choices
            else "no earlier choice is known"
        ),
        candidates=[f.value for f in choices],
    )


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def resolve_references(
    request: BaseMessage,
    *,
    history: Sequence[BaseMessage],
    facts: Sequence[Fact] = (),
    task: TaskState | None = None,
) -> list[ResolvedReference]:
    """Find the back-references in a request and resolve each one.

    Args:
        request: The current user turn.
        history: The turns before it, oldest first (the recent window).
        facts: Known facts; "same as before" resolves against decisions and
            preferences.
        task: The active task; its entities are the last resort for "it".

    Returns:
        One `ResolvedReference` per phrase, in the order they appear.
    """
    text = message_text(request)
    found: list[tuple[int, ResolvedReference]] = []
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        span = match.span()
        return not any(span[0] < end and start < span[1] for start, end in taken)

    for match in _AGAIN.finditer(text):
        taken.append(match.span())
        found.append((match.start(), _again(match, history)))
    for match in _SAME.finditer(text):
        if free(match):
            taken.append(match.span())
            found.append((match.start(), _same(match, text, facts)))
    for match in _ORDINAL.finditer(text):
        noun = (match["noun"] or "").lower()
        after = text[match.end() :].lstrip().lower()
        if noun in _NOT_LIST_NOUNS or (not noun and after.startswith("of ")):
            continue
        if free(match):
            taken.append(match.span())
            found.append((match.start(), _ordinal(match, history)))
    for match in _PRONOUN_ACTION.finditer(text):
        if free(match):
            taken.append(match.span())
            found.append((match.start(), _pronoun(match, history, task)))
    return [ref for _, ref in sorted(found, key=lambda pair: pair[0])]
