r"""What may enter a thread: every message normalised, every part of it bounded and checked.

`validate_messages` is the one check every new message passes, wherever it
comes from (a run's input, ``Command(update=...)``, the ``messages`` reducer):

* It becomes one of the four kinds memorygraph packs (human, AI, system, tool)
  or a `RemoveMessage`. A `ChatMessage` with role ``user``, ``assistant``,
  ``system`` or ``developer`` is turned into the matching kind, so a provider
  never receives a role it rejects; any other role is refused. A system
  message from input is still data: the renderer demotes it to a user turn
  (`memorygraph.rendering.messages.safe_turn`), since only configuration writes system text.
* Every string in it (content and its blocks, image URLs, tool call
  arguments, ``additional_kwargs``, ``name``, ``id``) is valid UTF-8 (no lone
  surrogate) and free of NUL characters, which PostgreSQL cannot store in
  JSON or text columns; and all of them together hold at most
  `MAX_MESSAGE_CHARS` characters, nested at most `MAX_DEPTH` deep.
* The name ``context`` is memorygraph's own context message's, so a turn may
  not carry it.

Model replies are cleaned instead of refused (`clean_message`): a NUL becomes
nothing and a lone surrogate U+FFFD, so one odd byte from a provider cannot
wedge a thread.

Example:
    >>> from langchain_core.messages import ChatMessage
    >>> validate_messages([], [ChatMessage(role="developer", content="be nice")])[0].type
    'system'
    >>> try:
    ...     validate_messages([], [("human", "Pa\x00ris")])
    ... except InvalidMessageError as exc:
    ...     print(str(exc)[:60])
    messages[0].content holds a NUL character (\x00), which Post
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)

from memorygraph.errors import InvalidMessageError

__all__ = [
    "CONTEXT_NAME",
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "MAX_MESSAGE_CHARS",
    "MAX_NAME_CHARS",
    "clean_message",
    "clean_text",
    "clean_value",
    "validate_messages",
]

MAX_MESSAGE_CHARS = 1_000_000
"""The most characters one message may hold, counting every string in it; larger is refused."""
MAX_ID_CHARS = 512
"""The longest message id, tool call id or tool name accepted."""
MAX_NAME_CHARS = 256
"""The longest ``name`` accepted."""
MAX_DEPTH = 32
"""How deeply ``additional_kwargs``, tool arguments and content blocks may nest."""
CONTEXT_NAME = "context"
"""The name of memorygraph's context message; no turn may carry it."""

_ROLES = {"human", "user", "ai", "assistant", "system", "developer", "tool", "remove"}
_CHAT_ROLES: dict[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "human": HumanMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
    "system": SystemMessage,
    "developer": SystemMessage,
}
_MESSAGE_TYPES = (HumanMessage, AIMessage, SystemMessage, ToolMessage, RemoveMessage)
_USE = "use human, ai, system or tool"


def _refuse_bytes(index: int, content: object) -> None:
    if isinstance(content, tuple):  # the rest of a (role, content) pair
        content = content[0] if content else None
    if not isinstance(content, bytes | bytearray):
        return
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessageError(
            f"messages[{index}] content is bytes that are not valid UTF-8 (at byte "
            f"{exc.start}); decode them to text first, with errors='replace'"
        ) from exc
    raise InvalidMessageError(
        f"messages[{index}] content is bytes; decode it to text first (.decode('utf-8'))"
    )


def _from_chat(index: int, raw: ChatMessage) -> BaseMessage:
    kind = _CHAT_ROLES.get(raw.role)
    if kind is None:
        known = "role" if raw.role in _ROLES else "unknown role"
        hint = " (a tool result needs a ToolMessage with its tool_call_id)" * (raw.role == "tool")
        raise InvalidMessageError(
            f"messages[{index}] has {known} {raw.role!r}, which a ChatMessage cannot carry "
            f"to a chat model; {_USE}{hint}"
        )
    kwargs = dict(raw.additional_kwargs)
    if raw.role == "developer":
        kwargs.setdefault("__openai_role__", "developer")
    return kind(content=raw.content, id=raw.id, name=raw.name, additional_kwargs=kwargs)


def _coerce(index: int, raw: object) -> BaseMessage:
    if isinstance(raw, ChatMessage):
        return _from_chat(index, raw)
    if isinstance(raw, BaseMessage):
        if not isinstance(raw, _MESSAGE_TYPES):
            raise InvalidMessageError(f"messages[{index}] is a {type(raw).__name__}; {_USE}")
        return raw
    if isinstance(raw, dict):
        role = raw.get("role", raw.get("type"))
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidMessageError(f"messages[{index}] has unknown role {role!r}; {_USE}")
    elif isinstance(raw, tuple):
        if len(raw) != 2 or not isinstance(raw[0], str) or raw[0] not in _ROLES:
            raise InvalidMessageError(
                f"messages[{index}] must be a (role, content) pair with role human, ai, "
                f"system or tool, got {raw!r:.80}"
            )
    elif not isinstance(raw, str):
        raise InvalidMessageError(
            f"messages[{index}] is {type(raw).__name__}, not a chat message; pass "
            'langchain_core messages, (role, content) tuples, or {"role", "content"} dicts'
        )
    _refuse_bytes(index, raw.get("content") if isinstance(raw, dict) else raw[1:])
    try:
        message = convert_to_messages([raw])[0]
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise InvalidMessageError(f"messages[{index}] is not a valid message: {exc}") from exc
    return _from_chat(index, message) if isinstance(message, ChatMessage) else message


class _Budget:
    """Counts the characters of every string in one message against `MAX_MESSAGE_CHARS`."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.used = 0

    def text(self, path: str, text: str) -> None:
        self.used += len(text)
        if self.used > MAX_MESSAGE_CHARS:
            raise InvalidMessageError(
                f"{self.where} has {self.used:,}+ characters, more than the "
                f"{MAX_MESSAGE_CHARS:,} accepted; store large documents elsewhere and pass "
                "a reference (every part counts: text, images as data URLs, tool "
                f"arguments, additional_kwargs; the limit was passed at {path})"
            )
        _check_chars(path, text)

    def walk(self, path: str, value: object, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise InvalidMessageError(f"{path} nests more than {MAX_DEPTH} levels deep; flatten it")
        if isinstance(value, str):
            self.text(path, value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                name = key if isinstance(key, str) else repr(key)
                self.text(f"{path} key", name)
                self.walk(f"{path}[{name[:40]!r}]", item, depth + 1)
        elif isinstance(value, list | tuple):
            for number, item in enumerate(value):
                self.walk(f"{path}[{number}]", item, depth + 1)
        elif isinstance(value, bytes | bytearray):
            self.used += len(value)
            self.text(path, "")  # checks the running total


def _check_chars(where: str, text: str) -> None:
    if "\x00" in text:
        raise InvalidMessageError(
            f"{where} holds a NUL character (\\x00), which PostgreSQL cannot store; "
            "remove it (text.replace('\\x00', ''))"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidMessageError(
            f"{where} is not valid UTF-8 text (lone surrogate at position {exc.start}); "
            "decode input bytes with errors='replace' before sending them"
        ) from exc


def _check_short(where: str, value: object, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidMessageError(f"{where} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidMessageError(
            f"{where} has {len(value):,} characters, more than the {limit:,} accepted"
        )
    _check_chars(where, value)


def check_message(where: str, message: BaseMessage) -> None:
    """Check every part of one message: ids and names short, every string clean, all bounded.

    Raises:
        InvalidMessageError: What is wrong, and where in the message.
    """
    _check_short(f"{where}.id", message.id, MAX_ID_CHARS)
    if isinstance(message, RemoveMessage):
        return
    _check_short(f"{where}.name", message.name, MAX_NAME_CHARS)
    if message.name == CONTEXT_NAME:
        raise InvalidMessageError(
            f"{where} is named {CONTEXT_NAME!r}, the name of memorygraph's own context "
            "message; give it another name, or none"
        )
    created = message.additional_kwargs.get("created_at")
    if created is not None and not isinstance(created, datetime):
        _check_short(f"{where}.additional_kwargs['created_at']", created, 64)
    budget = _Budget(where)
    content = message.content
    if not isinstance(content, str | list):
        raise InvalidMessageError(f"{where}.content must be text or a list of content blocks")
    if isinstance(content, list):
        for number, part in enumerate(content):
            if (
                isinstance(part, dict)
                and part.get("type") == "text"
                and not isinstance(part.get("text"), str)
            ):
                raise InvalidMessageError(
                    f"{where}.content[{number}] is a text block whose text is "
                    f"{type(part.get('text')).__name__}, not a string"
                )
    budget.walk(f"{where}.content", content)
    budget.walk(f"{where}.additional_kwargs", message.additional_kwargs)
    if isinstance(message, AIMessage):
        for number, call in enumerate(message.tool_calls):
            _check_short(f"{where}.tool_calls[{number}].id", call.get("id"), MAX_ID_CHARS)
            _check_short(f"{where}.tool_calls[{number}].name", call.get("name"), MAX_ID_CHARS)
            budget.walk(f"{where}.tool_calls[{number}].args", call.get("args"), 1)
        budget.walk(f"{where}.invalid_tool_calls", message.invalid_tool_calls)
    if isinstance(message, ToolMessage):
        _check_short(f"{where}.tool_call_id", message.tool_call_id, MAX_ID_CHARS)


def validate_messages(existing: Sequence[BaseMessage], new: Sequence[object]) -> list[BaseMessage]:
    """Check new messages before they join a thread, and return them as messages.

    Args:
        existing: The thread's current messages.
        new: The messages being added (messages, tuples, dicts or strings).

    Returns:
        The new messages as human, AI, system, tool or remove messages
        (a `ChatMessage` is converted by its role).

    Raises:
        InvalidMessageError: For a role a chat model does not take, a non-message,
            text that is not valid UTF-8 or holds a NUL, a message larger than
            `MAX_MESSAGE_CHARS` in all its parts, an id or name that is too long,
            the reserved name ``context``, or a tool result whose tool call is in
            neither the thread nor the update.
    """
    messages = [_coerce(index, raw) for index, raw in enumerate(new)]
    for index, message in enumerate(messages):
        check_message(f"messages[{index}]", message)
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if results:
        calls = {
            call["id"]
            for m in (*existing, *messages)
            if isinstance(m, AIMessage)
            for call in m.tool_calls
        }
        orphans = [m.tool_call_id for m in results if m.tool_call_id not in calls]
        if orphans:
            raise InvalidMessageError(
                f"tool result(s) for call id(s) {orphans} have no matching AI tool call "
                "in the thread; send the AIMessage with the tool_calls first"
            )
    return messages


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    r"""Drop NUL characters and replace lone surrogates with U+FFFD.

    Example:
        >>> clean_text("Pa\x00ris \ud800") == "Paris \ufffd"
        True
    """
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


def clean_value(value: Any, depth: int = 0) -> Any:
    """Every string in a JSON-like value cleaned with `clean_text` (what a store writes)."""
    if isinstance(value, str):
        return clean_text(value)
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {clean_value(k, depth + 1): clean_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v, depth + 1) for v in value]
    return value


def clean_message(message: AIMessage) -> AIMessage:
    """A model reply with every string cleaned (`clean_text`), so any backend can store it.

    A ``created_at`` that is not text is dropped, and a name is cut to
    `MAX_NAME_CHARS` (and dropped if it is the context message's): a reply is
    cleaned rather than refused, since refusing it would fail the run after its
    input was saved.
    """
    kwargs = dict(message.additional_kwargs)
    if not isinstance(kwargs.get("created_at", ""), str | datetime):
        del kwargs["created_at"]  # a provider's own timestamp format: not a date memorygraph reads
    update: dict[str, Any] = {
        "content": clean_value(message.content),
        "additional_kwargs": clean_value(kwargs),
        "tool_calls": clean_value(message.tool_calls),
    }
    if message.name is not None:
        name = clean_text(message.name)[:MAX_NAME_CHARS]
        update["name"] = None if name == CONTEXT_NAME else name
    if message.id is not None:
        update["id"] = clean_text(message.id)
    cleaned = message.model_copy(update=update)
    return cleaned if cleaned != message else message
