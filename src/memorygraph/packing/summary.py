"""The summary's text in a package, fitted to the summary's share of the budget.

A package shows the newest five open questions and risk notes of a summary
(the record keeps more; their turns are in the archive, where recall finds
them). A summary stands for every turn folded out of the window, so the packer puts it
in right after the critical items (`memorygraph.nodes.packer.pack_items`).
That is only fair to the rest of the package when the summary keeps to its
share: a summary larger than its share is shortened here, its least lasting
entries first, oldest first within each kind: open questions, then risk notes,
entities, decisions and rejected assumptions. The user's goal, the active task
and the turn the summary covers up to are never cut.

Example:
    >>> from memorygraph.records import SessionSummary
    >>> from memorygraph.tokens import TokenCounter
    >>> summary = SessionSummary(user_goal="Plan a trip", covered_turns=3,
    ...     open_questions=[f"Question {i}?" for i in range(20)], last_updated_turn_id="m3")
    >>> text, left_out = fit_summary_text(summary, cap=30, counter=TokenCounter())
    >>> print(text)
    User goal: Plan a trip
    Open questions:
    - Question 18?
    - Question 19?
    Covers turns up to m3.
    >>> left_out  # of the five newest a package shows at most
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memorygraph.records import SessionSummary

if TYPE_CHECKING:
    from memorygraph.tokens import TokenCounter

__all__ = ["fit_summary_text", "summary_text"]

# Rendered in this order; cut in TRIM_ORDER.
_LISTS = (
    ("Confirmed decisions", "confirmed_decisions"),
    ("Open questions", "open_questions"),
    ("Rejected assumptions (do not assume these)", "rejected_assumptions"),
    ("Risk notes", "risk_notes"),
)
_TRIM_ORDER = (
    "open_questions",
    "risk_notes",
    "important_entities",
    "confirmed_decisions",
    "rejected_assumptions",
)


_SHOWN = {"open_questions": 5, "risk_notes": 5}
"""The newest entries of these lists that a package shows; the summary record
keeps more (``summary_max_items``), and the turns they came from stay in the
archive, where recall finds them."""


def _entries(summary: SessionSummary) -> dict[str, list[str]]:
    entries = {
        field: [f"- {value}" for value in getattr(summary, field)][-_SHOWN.get(field, 0) :]
        for _, field in _LISTS
    }
    entries["important_entities"] = [
        f"- {name}: {ref}" for name, ref in sorted(summary.important_entities.items())
    ]
    return entries


def _render(summary: SessionSummary, entries: dict[str, list[str]]) -> str:
    lines: list[str] = []
    if summary.user_goal:
        lines.append(f"User goal: {summary.user_goal}")
    if summary.active_task:
        lines.append(f"Active task: {summary.active_task}")
    for title, field in _LISTS:
        if entries[field]:
            lines.append(f"{title}:")
            lines.extend(entries[field])
    if entries["important_entities"]:
        lines.append("Important entities:")
        lines.extend(entries["important_entities"])
    if summary.last_updated_turn_id:
        lines.append(f"Covers turns up to {summary.last_updated_turn_id}.")
    return "\n".join(lines)


def summary_text(summary: SessionSummary) -> str:
    """The summary's whole text, as the package shows it."""
    return _render(summary, _entries(summary))


def fit_summary_text(
    summary: SessionSummary, *, cap: int, counter: TokenCounter
) -> tuple[str, int]:
    """The summary's text within ``cap`` tokens, its least lasting entries cut first.

    Args:
        summary: The summary.
        cap: The most tokens the text may take (the rendered block adds its header).
        counter: Counts the text.

    Returns:
        The text and how many entries were left out. When even the entries that
        are never cut exceed ``cap``, that shortest text is returned.
    """
    entries = _entries(summary)
    text = _render(summary, entries)
    if counter.count_text(text) <= cap:
        return text, 0
    # Cut whole entries by their own counts (lines add up closely), then check
    # the exact count and cut on until it fits.
    costs = {
        field: [counter.count_text(line) + 1 for line in lines] for field, lines in entries.items()
    }
    excess = counter.count_text(text) - cap
    left_out = 0
    while True:
        if excess <= 0:
            text = _render(summary, entries)
            excess = counter.count_text(text) - cap
            if excess <= 0:
                return text, left_out
        field = next((name for name in _TRIM_ORDER if entries[name]), None)
        if field is None:
            return _render(summary, entries), left_out
        entries[field].pop(0)
        # The list's title line goes with its last entry.
        excess -= costs[field].pop(0) + (0 if entries[field] else counter.count_text("x:") + 1)
        left_out += 1
