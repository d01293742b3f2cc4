"""The message window: history, the current request, the turn in progress, tool-call units."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

__all__ = ["message_id", "message_text", "split_turn", "tool_rounds", "turn_units"]


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
