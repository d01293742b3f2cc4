"""Renderings of a package: the compact table fits 80 columns, and Jupyter shows HTML."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage
from rich.console import Console

from memorygraph import MemoryConfig
from memorygraph.context import Identity
from memorygraph.display import budget_bar, compact_table, package_html, package_table
from memorygraph.nodes import build_package
from memorygraph.records import ContextPackage


def package() -> ContextPackage:
    turns = []
    for i in range(30):
        turns += [
            HumanMessage(f"Turn {i}: <b>notes</b> about the trip " + "and more words " * 20),
            AIMessage(f"Reply {i}."),
        ]
    turns.append(HumanMessage("Where does the trip start?"))
    return build_package(
        {"messages": turns},
        identity=Identity("t1", "acme", "ana", ()),
        config=MemoryConfig(token_budget=700, output_reserve=150),
    )


def printed(renderable: object, width: int) -> list[str]:
    console = Console(width=width, color_system=None)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get().splitlines()


def test_the_compact_table_is_one_line_per_item_at_80_columns() -> None:
    shown = package()
    lines = printed(compact_table(shown, title="package"), 80)
    assert max(len(line) for line in lines) <= 80
    rows = len(shown.items) + len(shown.excluded)
    assert len(lines) <= rows + 5  # title, blank, header, rule, trailing blank
    assert any("excluded: over_budget" in line for line in lines)
    assert any("Where does the trip start?" in line for line in lines)
    # The full table keeps the ids, which the compact one leaves out.
    assert any(shown.items[0].id[:10] in line for line in printed(package_table(shown), 160))
    assert printed(budget_bar(shown), 80)[0].startswith(f"{shown.total_tokens}/700 tokens")


def test_a_package_shows_itself_in_jupyter_as_an_html_table_with_its_budget_bar() -> None:
    shown = package()
    rendered = shown._repr_html_()
    assert rendered == package_html(shown)
    assert rendered.count("<tr>") == 1 + len(shown.items) + len(shown.excluded)
    assert f"{shown.total_tokens}/700 tokens" in rendered
    assert 'title="reserve 150"' in rendered  # the bar's reserve segment
    assert "&lt;b&gt;notes&lt;/b&gt;" in rendered and "<b>notes" not in rendered
