"""Renderings of a context package: rich tables and budget bars, and HTML for Jupyter.

The CLI prints `compact_table` (one line per item, fits 80 columns) and, for
``memorygraph inspect``, the full `package_table`; both are followed by
`budget_bar`. In a notebook a `ContextPackage` shows itself as `package_html`
(its ``_repr_html_``); the rich renderings print there too.

Example:
    >>> from rich.console import Console
    >>> from langchain_core.messages import HumanMessage
    >>> from memorygraph import MemoryConfig
    >>> from memorygraph.context import Identity
    >>> from memorygraph.nodes import build_package
    >>> package = build_package({"messages": [HumanMessage("Hi, I'm Ana.")]},
    ...     identity=Identity("t1", "acme", "ana", ()), config=MemoryConfig())
    >>> console = Console(width=80)
    >>> with console.capture() as captured:
    ...     console.print(compact_table(package))
    >>> max(len(line) for line in captured.get().splitlines()) <= 80
    True
    >>> "<table" in package_html(package)
    True
"""

from __future__ import annotations

import html

from rich.box import SIMPLE_HEAD
from rich.console import Group
from rich.table import Table
from rich.text import Text

from memorygraph.records import ContextPackage

__all__ = ["budget_bar", "compact_table", "package_html", "package_table"]

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
    """A table of every item: kind, id, tokens, included or why excluded, and content.

    Args:
        package: The package to show.
        title: A title above the table.

    Returns:
        A rich `Table` (``memorygraph inspect`` prints it).
    """
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


def _excerpt(text: str, style: str = "") -> Text:
    return Text(_preview(text, width=200), style=style, no_wrap=True, overflow="ellipsis")


def compact_table(package: ContextPackage, *, title: str | None = None) -> Table:
    """One line per item: kind, status, tokens and a one-line excerpt; fits 80 columns.

    Args:
        package: The package to show.
        title: A title above the table.

    Returns:
        A rich `Table`; the excerpt column takes what the terminal leaves.
    """
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    # Only the excerpt gives way in a narrow terminal: it is the one column rich
    # may shrink, and its cells are cut with an ellipsis instead of wrapping.
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("excerpt", min_width=8)
    for item in package.items:
        table.add_row(
            Text(item.kind.value, style=_COLOURS.get(item.kind.value, "white")),
            Text("included", style="green"),
            str(item.tokens),
            _excerpt(item.content),
        )
    for entry in package.excluded:
        table.add_row(
            Text(entry.item.kind.value, style="dim"),
            Text(f"excluded: {entry.reason}", style="red"),
            str(entry.item.tokens),
            _excerpt(entry.item.content, style="dim"),
        )
    return table


_HTML_COLOURS = {
    "magenta": "#b05cc4",
    "bold cyan": "#1f9bb5",
    "cyan": "#1f9bb5",
    "green": "#3a9a4a",
    "yellow": "#d4a017",
    "blue": "#3b6fd1",
    "red": "#d14b3b",
    "white": "#888888",
}


def _html_colour(kind: str) -> str:
    return _HTML_COLOURS[_COLOURS.get(kind, "white")]


def package_html(package: ContextPackage) -> str:
    """The package as HTML: its budget bar, then a table of every item (Jupyter's rendering).

    Args:
        package: The package to show.

    Returns:
        An HTML fragment; every text from the package is escaped.
    """
    budget = package.budget
    segments = [
        (kind, tokens, _html_colour(kind)) for kind, tokens in package.tokens_by_kind().items()
    ]
    free = max(0, budget - package.output_reserve - package.total_tokens)
    segments += [("free", free, "#eeeeee"), ("reserve", package.output_reserve, "#bbbbbb")]
    bar = "".join(
        f'<div title="{html.escape(kind)} {tokens}" style="width:{100 * tokens / budget:.2f}%;'
        f'background:{colour};height:100%;display:inline-block"></div>'
        for kind, tokens, colour in segments
        if tokens
    )
    legend = " &middot; ".join(
        f'<span style="color:{colour}">{html.escape(kind)} {tokens}</span>'
        for kind, tokens, colour in segments
    )
    rows = []
    for item in package.items:
        rows.append((item.kind.value, item.id, item.tokens, "included", item.content))
    for entry in package.excluded:
        detail = f" ({entry.detail})" if entry.detail else ""
        status = f"excluded: {entry.reason}{detail}"
        rows.append((entry.item.kind.value, entry.item.id, entry.item.tokens, status, ""))
    body = "".join(
        f'<tr><td style="color:{_html_colour(kind)}">{html.escape(kind)}</td>'
        f"<td><code>{html.escape(_short(item_id))}</code></td>"
        f'<td style="text-align:right">{tokens}</td><td>{html.escape(status)}</td>'
        f'<td style="text-align:left">{html.escape(_preview(content, width=120))}</td></tr>'
        for kind, item_id, tokens, status, content in rows
    )
    return (
        f'<div class="memorygraph-package"><p><b>ContextPackage</b> <code>{package.id[:12]}'
        f"</code>: {package.total_tokens}/{budget} tokens "
        f"({package.total_tokens + package.output_reserve} with the output reserve)</p>"
        f'<div style="width:100%;height:14px;border:1px solid #999;line-height:0">{bar}</div>'
        f'<p style="font-size:smaller">{legend}</p>'
        "<table><thead><tr><th>kind</th><th>id</th><th>tokens</th><th>status</th>"
        f"<th>content</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def budget_bar(package: ContextPackage, *, width: int = 60) -> Group:
    """A bar of the budget spent per kind, with the reserve and what is left.

    Args:
        package: The package to show.
        width: The bar's width in cells.

    Returns:
        A rich renderable: a header line, the bar, and a legend.
    """
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
