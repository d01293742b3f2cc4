"""What a rendered item costs in tokens: the one place that prices the packer's parts.

Every figure here counts the text `memorygraph.rendering.messages` renders,
with the separator that joins it to the next block, so the packer's estimate
and the package's exact count agree; the package is still counted exactly as
rendered (`TokenCounter.count_messages`) before it is returned.

Example:
    >>> from memorygraph.kinds import ItemKind
    >>> from memorygraph.tokens import TokenCounter
    >>> counter = TokenCounter()
    >>> instruction_tokens(ItemKind.POLICY, "Be brief.", counter)
    6
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.messages import SystemMessage

from memorygraph.kinds import ItemKind
from memorygraph.rendering.messages import (
    BLOCK_SEPARATOR,
    RECALL_GAP,
    context_message,
    quote_lines,
    recalled_header,
    render_block,
    render_instruction,
)

if TYPE_CHECKING:
    from memorygraph.records import ContextItem
    from memorygraph.tokens import TokenCounter

__all__ = [
    "data_tokens",
    "instruction_tokens",
    "message_overheads",
    "recalled_tokens",
    "rendering_tokens",
]


def instruction_tokens(kind: ItemKind, content: str, counter: TokenCounter) -> int:
    """A trusted instruction's section in the system message, with its separator."""
    return counter.count_text(render_instruction(kind, content) + BLOCK_SEPARATOR)


def data_tokens(item: ContextItem, counter: TokenCounter) -> int:
    """A data item's block in the context message (header, quoted lines, separator)."""
    return counter.count_text(render_block(item) + BLOCK_SEPARATOR)


def recalled_tokens(item: ContextItem, counter: TokenCounter) -> tuple[int, int]:
    """A recalled passage's cost when it opens its session's block, and when it follows one.

    Passages of one session share one header (`render_recalled`): the first pays
    for it, a later one pays for the gap line instead.
    """
    body = quote_lines(item.content)
    opening = counter.count_text(f"{recalled_header(item)}\n{body}{BLOCK_SEPARATOR}")
    following = counter.count_text(f"\n{RECALL_GAP}\n{body}")
    return opening, following


def rendering_tokens(item: ContextItem, counter: TokenCounter) -> int:
    """What an item's rendering adds to its text: header, quotes and separator."""
    return item.tokens - counter.count_text(item.content)


def message_overheads(counter: TokenCounter) -> tuple[int, int]:
    """The fixed costs of a package: the system message's, and the context message's.

    Returns:
        ``(overhead, context_overhead)``: the chat format's cost of the system
        message, and what the context message adds (its header, name and
        format), paid only by a package with data items.
    """
    overhead = counter.count_messages([SystemMessage("")])
    context = counter.count_messages([SystemMessage(""), context_message("")]) - overhead
    return overhead, context
