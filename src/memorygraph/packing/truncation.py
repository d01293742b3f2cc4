"""Shorten the turn in progress's tool results, visibly, so the turn fits the budget.

The turn in progress (the current request, then every tool call the model made
since it with all of its results) is packed whole: a model that does not see
its own tool results calls the same tools again, turn after turn. When the
turn does not fit beside the other critical items, the largest tool results are
shortened first, each down to its head and its tail around a marker that says
how many tokens were cut; the item records its size before and after in its
``metadata["truncated"]``. Only when even the bare markers do not fit does the
packer raise `memorygraph.errors.ContextBudgetExceeded`.

Example:
    >>> from memorygraph.tokens import TokenCounter
    >>> text, cut = truncate_text(" ".join(["word"] * 200), keep=8, counter=TokenCounter())
    >>> cut
    192
    >>> print(text)
    word word word word
    [... 192 tokens of this tool result cut to fit the context budget ...]
     word word word word
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import messages_from_dict

from memorygraph.records import ContextItem, ItemKind

if TYPE_CHECKING:
    from memorygraph.tokens import TokenCounter

__all__ = ["TRUNCATION_MARKER", "shorten_tool_results", "truncate_text"]

TRUNCATION_MARKER = "[... {cut} tokens of this tool result cut to fit the context budget ...]"
"""The line put in place of the middle of a shortened tool result."""


def truncate_text(text: str, *, keep: int, counter: TokenCounter) -> tuple[str, int]:
    """Keep ``keep`` tokens of ``text``, its head and its tail, around a marker.

    Args:
        text: The tool result's text.
        keep: Tokens of the original text to keep (the head gets the odd one).
        counter: The token counter whose encoding cuts the text.

    Returns:
        The shortened text and the number of tokens cut; the text unchanged and
        0 when it already holds at most ``keep`` tokens.
    """
    return _cut(text, counter.encode(text), keep, counter)


def _cut(text: str, ids: Sequence[int], keep: int, counter: TokenCounter) -> tuple[str, int]:
    """`truncate_text` of a text already encoded to ``ids``."""
    if len(ids) <= keep:
        return text, 0
    keep = max(keep, 0)
    cut = len(ids) - keep
    tail = keep // 2
    head = keep - tail
    encoding = counter.encoding
    # A cut may fall inside a multi-byte character: its stray bytes are dropped.
    head_text = encoding.decode(list(ids[:head]), errors="ignore")
    tail_text = encoding.decode(list(ids[len(ids) - tail :]), errors="ignore") if tail else ""
    return f"{head_text}\n{TRUNCATION_MARKER.format(cut=cut)}\n{tail_text}", cut


def _is_tool_result(item: ContextItem) -> bool:
    return (
        item.kind is ItemKind.TOOL_RESULT
        and item.message is not None
        and item.message.get("type") == "tool"
    )


def _text_of(item: ContextItem) -> str:
    assert item.message is not None
    content = item.message["data"].get("content")
    if isinstance(content, str):
        return content
    (message,) = messages_from_dict([item.message])
    return message.text if isinstance(message.text, str) else str(message.content)


def _shortened(
    item: ContextItem,
    text: str,
    ids: Sequence[int],
    keep: int,
    before: int,
    counter: TokenCounter,
) -> ContextItem:
    assert item.message is not None
    shortened, cut = _cut(text, ids, keep, counter)
    data: dict[str, Any] = {**item.message["data"], "content": shortened}
    message_dict = {**item.message, "data": data}
    (message,) = messages_from_dict([message_dict])
    tokens = counter.count_message(message)
    metadata = {
        **item.metadata,
        "truncated": {"tokens_before": before, "tokens_after": tokens, "tokens_cut": cut},
    }
    return item.model_copy(
        update={
            "content": shortened,
            "message": message_dict,
            "tokens": tokens,
            "metadata": metadata,
        }
    )


def _level(sizes: Sequence[int], excess: int) -> tuple[int, int]:
    """How many of the largest results (``sizes``, largest first) go down together, and to what.

    The largest ones are lowered to the size of the next one until lowering
    them saves ``excess``; then they share what is left of the cut evenly (the
    level rounds down, so they save at least the excess).
    """
    total = 0
    for count, size in enumerate(sizes, start=1):
        total += size
        following = sizes[count] if count < len(sizes) else 0
        if total - count * following >= excess:
            return count, max(following, (total - excess) // count)
    return len(sizes), 0


def shorten_tool_results(
    items: Sequence[ContextItem], excess: int, *, counter: TokenCounter
) -> list[ContextItem] | None:
    """Shorten the largest tool results among ``items`` until ``excess`` tokens are saved.

    The largest result is cut first, down to the size of the next largest, and
    from there both together, and so on: results are shortened evenly from the
    top, each keeping its head and its tail. Each round lowers every result it
    cuts at once (each text is encoded once), so a few rounds settle what token
    counts add up to, whatever the sizes.

    Args:
        items: The critical items; only tool results (kind ``tool_result``,
            a ``tool`` message) are shortened, the rest pass through.
        excess: Tokens to save.
        counter: Counts and cuts the text.

    Returns:
        The items in the same order, some shortened, or None when even cutting
        every tool result down to its marker does not save ``excess`` tokens.
    """
    current = list(items)
    positions = [index for index, item in enumerate(current) if _is_tool_result(item)]
    if excess <= 0:
        return current
    if not positions:
        return None
    texts = {index: _text_of(current[index]) for index in positions}
    ids = {index: counter.encode(texts[index]) for index in positions}
    kept = {index: len(ids[index]) for index in positions}
    before = {index: current[index].tokens for index in positions}
    while excess > 0:
        live = [index for index in positions if kept[index] > 0]
        if not live:
            return None
        # The largest results first (ties: the earliest), down together to one level.
        live.sort(key=lambda index: (-current[index].tokens, index))
        count, level = _level([current[index].tokens for index in live], excess)
        for index in live[:count]:
            step = max(1, current[index].tokens - level)
            if "truncated" not in current[index].metadata:
                step += counter.count_text(TRUNCATION_MARKER.format(cut=kept[index])) + 2
            kept[index] = max(0, kept[index] - step)
            old = current[index].tokens
            current[index] = _shortened(
                items[index], texts[index], ids[index], kept[index], before[index], counter
            )
            excess -= old - current[index].tokens
    return current
