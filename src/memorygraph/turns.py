"""The message window: history, the current request, the turn in progress, tool-call units."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import NamedTuple

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)

__all__ = [
    "Window",
    "message_id",
    "message_text",
    "message_window",
    "split_turn",
    "tool_rounds",
    "turn_units",
]


def message_text(message: BaseMessage) -> str:
    """The message's text (text parts joined), or its content as a string."""
    return message.text if isinstance(message.text, str) else str(message.content)


def message_id(message: BaseMessage) -> str:
    """The message's id, or a stable one derived from its content."""
    if message.id:
        return message.id
    body = f"{message.type}\x1f{message.content!r}".encode()
    return "msg-" + hashlib.sha256(body).hexdigest()[:16]


def turn_units(messages: Sequence[BaseMessage]) -> list[tuple[str | None, list[BaseMessage]]]:
    """Group messages so an AI tool call and all its results form one unit.

    Returns:
        ``(group, members)`` pairs in order; ``group`` is None for a lone message.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> call = AIMessage("", id="a", tool_calls=[{"name": "f", "args": {}, "id": "c"}])
        >>> [(g, [m.id for m in ms]) for g, ms in turn_units(
        ...     [HumanMessage("q", id="h"), call, ToolMessage("r", tool_call_id="c", id="t")])]
        [(None, ['h']), ('calls:a', ['a', 't'])]
    """
    units: list[tuple[str | None, list[BaseMessage]]] = []
    open_calls: dict[str, int] = {}
    for message in messages:
        if isinstance(message, ToolMessage) and message.tool_call_id in open_calls:
            units[open_calls[message.tool_call_id]][1].append(message)
            continue
        if isinstance(message, AIMessage) and message.tool_calls:
            units.append((f"calls:{message_id(message)}", [message]))
            open_calls = {call["id"]: len(units) - 1 for call in message.tool_calls if call["id"]}
            continue
        units.append((None, [message]))
    return units


def split_turn(
    messages: Sequence[BaseMessage],
) -> tuple[list[BaseMessage], BaseMessage | None, list[BaseMessage]]:
    """Split a window into history, the current request and the turn in progress.

    The current request is the last human message; the turn in progress is
    everything after it: the model's tool calls and their results, which the
    model must see to finish the turn.

    Returns:
        ``(history, request, in_progress)``; ``request`` is None when the window
        has no human message (then everything is history).

    Example:
        >>> call = AIMessage("", id="a", tool_calls=[{"name": "f", "args": {}, "id": "c"}])
        >>> history, request, turn = split_turn(
        ...     [HumanMessage("hi", id="h0"), AIMessage("hello", id="a0"),
        ...      HumanMessage("q", id="h1"), call, ToolMessage("r", tool_call_id="c", id="t")])
        >>> [m.id for m in history], request.id, [m.id for m in turn]
        (['h0', 'a0'], 'h1', ['a', 't'])
    """
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[:index]), messages[index], list(messages[index + 1 :])
    return list(messages), None, []


def tool_rounds(in_progress: Sequence[BaseMessage]) -> int:
    """How many times the model has called tools in the turn in progress.

    Example:
        >>> call = AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c"}])
        >>> tool_rounds([call, ToolMessage("r", tool_call_id="c"), call])
        2
    """
    return sum(1 for m in in_progress if isinstance(m, AIMessage) and m.tool_calls)


class Window(NamedTuple):
    """A thread's working window, split once: what every node reads of ``messages``.

    Attributes:
        messages: The window: the state's messages without removal markers.
        history: The messages before the current request (all of them when
            there is no human message).
        request: The current request, the last human message, or None.
        in_progress: The turn in progress: everything after the request.
    """

    messages: list[BaseMessage]
    history: list[BaseMessage]
    request: BaseMessage | None
    in_progress: list[BaseMessage]

    @property
    def request_index(self) -> int:
        """Where the current request is in ``messages`` (``len(messages)`` when there is none)."""
        return len(self.history) if self.request is not None else len(self.messages)


_last = threading.local()


def message_window(messages: Sequence[BaseMessage]) -> Window:
    """The window of a state's ``messages``: computed once per list, however many read it.

    The nodes of one turn read the same ``messages`` list (LangGraph hands each
    node the channel's value); the split is remembered for the last list seen on
    this thread, so extraction, folding and packing share one. A list that is
    changed in place since (a different length or last message) is split again.

    Example:
        >>> window = message_window([HumanMessage("hi", id="h0"), AIMessage("hello", id="a0"),
        ...                          RemoveMessage(id="h0"), HumanMessage("q", id="h1")])
        >>> [m.id for m in window.history], window.request.id, window.request_index
        (['h0', 'a0'], 'h1', 2)
    """
    cached = getattr(_last, "entry", None)
    if (
        cached is not None
        and cached[0] is messages
        and cached[1] == len(messages)
        and (not messages or cached[2] is messages[-1])
    ):
        window: Window = cached[3]
        return window
    kept = [m for m in messages if not isinstance(m, RemoveMessage)]
    window = Window(kept, *split_turn(kept))
    _last.entry = (messages, len(messages), messages[-1] if messages else None, window)
    return window
