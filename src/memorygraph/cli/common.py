"""What the commands share: exit codes, opening a database, showing a package, approvals."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.store.base import BaseStore
from langgraph.types import Command
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.checkpointers.urls import parse_url
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.display import budget_bar, compact_table, package_table
from memorygraph.errors import BackendError
from memorygraph.graph import MemoryGraph, create_memory_graph
from memorygraph.records import ArchivedTurn, ContextPackage, SessionSummary
from memorygraph.store.archive import read_archive_range

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_THREAD, EXIT_BAD_INPUT = 0, 1, 2, 3, 4
EXIT_CODES = (
    "exit codes: 0 ok, 1 memorygraph error, 2 bad usage, 3 no such thread, "
    "4 bad lines in the input file (nothing written)"
)


def db_url(db: str) -> str:
    """The --db value as a URL: a bare path is a SQLite file."""
    return db if db == "memory" or "://" in db else f"sqlite:///{db}"


def missing_database(db: str) -> str | None:
    """Why a read-only command cannot run on ``db``: a SQLite file that does not exist."""
    try:
        target = parse_url(db_url(db))
    except BackendError:
        return None  # opening it reports what is wrong with the URL
    if target.kind != "sqlite" or target.location == ":memory:":
        return None
    path = Path(target.location)
    if path.is_file():
        return None
    message = f"no database at {path.resolve()} (from --db {db}); nothing was created"
    first = Path(target.location).parts[0] if Path(target.location).parts else ""
    meant_absolute = (
        db.startswith("sqlite:///")
        and not db.startswith("sqlite:////")
        and not Path(first).exists()
        and (Path("/") / first).is_dir()
    )
    if meant_absolute:
        message += (
            f"\nhint: {db} is the relative path {target.location}; an absolute path takes "
            f"four slashes: sqlite:////{target.location}"
        )
    return message


def state_archive(
    store: BaseStore, owner: tuple[str, str], thread: str, values: dict[str, Any]
) -> list[ArchivedTurn]:
    """The archived turns of the thread's current state: the first ``summary.covered_turns``.

    Positions past them belong to another branch of a forked thread, or to a
    conversation held under the same thread id before its checkpoints were
    deleted (``delete_thread`` leaves the store as it is).
    """
    summary = values.get("summary")
    covered = summary.covered_turns if isinstance(summary, SessionSummary) else 0
    return read_archive_range(store, (*owner, thread), 0, covered)


def thread_owner(values: dict[str, Any]) -> tuple[str, str] | None:
    """The (tenant, user) that owns a thread, read from its last package."""
    package = values.get("context_package")
    if isinstance(package, ContextPackage) and package.tenant_id:
        return package.tenant_id, package.user_id
    return None


def not_yours(console: Console, args: argparse.Namespace) -> None:
    """Say that the thread belongs to another tenant or user, and how to see whose it is."""
    console.print(
        f"[red]error:[/red] thread {args.thread!r} belongs to another tenant or user than "
        f"--tenant {args.tenant} --user {args.user}. Pass the owner's --tenant and --user; "
        f"memorygraph threads --db {args.db} shows each thread's tenant and user.",
        highlight=False,
    )


def open_graph(
    stack: ExitStack, db: str, model: BaseChatModel | None, config: MemoryConfig | None = None
) -> MemoryGraph:
    """The memory graph on the --db database (checkpointer and store), closed with ``stack``."""
    url = db_url(db)
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(model, checkpointer=checkpointer, store=store, config=config)


def show_package(
    console: Console, package: ContextPackage, title: str, *, full: bool = False
) -> None:
    """Print a package: one line per item (or the full table), then its budget bar."""
    # One line per item by default (fits 80 columns); ids, exclusion details and
    # longer content in the full table, which ``inspect`` prints.
    console.print((package_table if full else compact_table)(package, title=title))
    console.print(budget_bar(package))


def approve_all(payload: dict[str, Any]) -> dict[str, Any]:
    """The decision that approves every candidate (the demo's)."""
    return {"approve": [candidate["id"] for candidate in payload["candidates"]]}


def ask_on_stdin(payload: dict[str, Any]) -> dict[str, Any]:
    """Ask yes/no on standard input for the candidates of one interrupt."""
    answer = sys.stdin.readline().strip().casefold()
    ids = [candidate["id"] for candidate in payload["candidates"]]
    return {"approve": ids} if answer in ("y", "yes") else {"reject": ids}


def settle_approvals(
    console: Console,
    graph: MemoryGraph,
    cfg: Any,
    context: MemoryContext,
    result: dict[str, Any],
    decide: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Show each approval interrupt, then resume the run with the decision."""
    while result.get("__interrupt__"):
        payload = result["__interrupt__"][0].value
        lines = [
            f"{c['id']}  remember {c['key']}: {c['value']!r}?  ({c['reason']})"
            + ("  (asked before)" if c.get("asked_before") else "")
            for c in payload["candidates"]
        ]
        # Values are the user's words: shown as text, never as rich markup.
        console.print(Panel(Text("\n".join(lines)), title="approval needed", border_style="yellow"))
        decision = decide(payload)
        console.print(f"resuming with Command(resume={decision})", markup=False)
        result = graph.invoke(Command(resume=decision), cfg, context=context)


def run_turn(
    console: Console,
    graph: MemoryGraph,
    thread: str,
    context: MemoryContext,
    text: str,
    decide: Callable[[dict[str, Any]], dict[str, Any]] = approve_all,
) -> None:
    """Run one user turn, settle its approvals, show its package and the reply."""
    cfg: Any = {"configurable": {"thread_id": thread}}
    console.print(Panel(text, title="user", border_style="cyan", expand=False))
    result = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
    settle_approvals(console, graph, cfg, context, result, decide)
    values = graph.get_state(cfg).values
    show_package(console, values["context_package"], "context package for this turn")
    reply = values["messages"][-1]
    if reply.type == "ai":
        console.print(Panel(reply.text, title="assistant", border_style="green", expand=False))
