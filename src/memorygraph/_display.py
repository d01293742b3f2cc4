"""Rich renderings of a context package, shared by the CLI and notebooks."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from memorygraph.records import ContextPackage

__all__ = ["budget_bar", "package_table"]

_COLOURS = {
    "policy": "magenta",
    "authority": "magenta",
    "output_contract": "magenta",
    "request": "bold cyan",
    "fact": "green",
    "summary": "yellow",
    "recalled": "yellow",
    "recent_turn": "blue",
    "tool_result": "cyan",
    "task_state": "green",
    "clarification": "red",
}


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _short(item_id: str) -> str:
    return item_id if len(item_id) <= 16 else item_id[:15] + "…"


def package_table(package: ContextPackage, *, title: str | None = None) -> Table:
    """A table of every item: kind, id, tokens, and included or why excluded."""
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    # In a narrow terminal the content column gives way (rich shrinks only the
    # columns that may wrap): kind, id, tokens and status stay readable.
    table.add_column("kind", no_wrap=True)
    table.add_column("id", no_wrap=True, max_width=16)
    table.add_column("tokens", justify="right", no_wrap=True)
    # Long exclusion reasons wrap, so that tokens and content keep their room.
    table.add_column("status", overflow="fold", max_width=24)
    table.add_column("content", overflow="ellipsis", min_width=10, max_width=60)
    for item in package.items:
        colour = _COLOURS.get(item.kind.value, "white")
        table.add_row(
            Text(item.kind.value, style=colour),
            _short(item.id),
            str(item.tokens),
            Text("included", style="green"),
            _preview(item.content),
        )
    for entry in package.excluded:
        detail = f" ({entry.detail})" if entry.detail else ""
        table.add_row(
            Text(entry.item.kind.value, style="dim"),
            _short(entry.item.id),
            str(entry.item.tokens),
            Text(f"excluded: {entry.reason}{detail}", style="red"),
            "",
        )
    return table


def budget_bar(package: ContextPackage, *, width: int = 60) -> Group:
    """A bar of the budget spent per kind, with the reserve and what is left."""
    budget = package.budget
    spent = package.tokens_by_kind()
    bar = Text()
    legend = Text()
    for kind, tokens in spent.items():
        cells = max(1, round(width * tokens / budget)) if tokens else 0
        colour = _COLOURS.get(kind, "white")
        bar.append("█" * cells, style=colour)
        legend.append(f"{kind} {tokens}  ", style=colour)
    free = budget - package.output_reserve - package.total_tokens
    bar.append("░" * max(0, round(width * free / budget)), style="dim")
    bar.append("▒" * round(width * package.output_reserve / budget), style="grey50")
    legend.append(f"free {free}  reserve {package.output_reserve}", style="dim")
    header = Text(
        f"{package.total_tokens}/{budget} tokens "
        f"({package.total_tokens + package.output_reserve} with the output reserve), "
        f"package {package.id[:12]}"
    )
    return Group(header, bar, legend)
