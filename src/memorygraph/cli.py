"""The ``memorygraph`` command: demo, chat, inspect, threads, forget.

Exit codes scripts can rely on: 0 success, 1 a memorygraph error (the message
says what to fix), 2 bad usage, 3 the thread does not exist.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.panel import Panel

from memorygraph._display import budget_bar, package_table
from memorygraph.checkpointers import delete_thread, list_threads, open_checkpointer, open_store
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.errors import MemoryGraphError
from memorygraph.graph import MemoryGraph, create_memory_graph
from memorygraph.records import ContextPackage

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_THREAD = 0, 1, 2, 3

DEMO_THREAD = "demo"
DEMO_CONFIG = MemoryConfig(token_budget=700, output_reserve=150)
DEMO_SESSIONS: dict[int, list[str]] = {
    1: [
        "Hi! My name is Ana and I live in Lisbon.",
        "I'm planning a trip to Japan in April. Let's go with Kyoto first, then Tokyo.",
        "Actually, no: start in Osaka, then Kyoto, then Tokyo.",
        "Here are my notes from the guidebook, keep them in mind: "
        + "Temples open early; trains are punctual; carry cash for small shops. " * 16,
        "Which city do we start in?",
    ],
    2: [
        "Hello again, it's Ana. Where did we say the trip starts?",
        "And where do I live?",
    ],
}


def _url(db: str) -> str:
    return db if db == "memory" or "://" in db else f"sqlite:///{db}"


def resolve_model() -> BaseChatModel:
    """Pick the chat model: ``MEMORYGRAPH_MODEL``, then OpenAI, else the offline model."""
    name = os.environ.get("MEMORYGRAPH_MODEL")
    if name:
        from langchain.chat_models import init_chat_model

        model: BaseChatModel = init_chat_model(name)
        return model
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4o-mini")
    from memorygraph.offline import OfflineChatModel

    return OfflineChatModel()


def _open_graph(
    stack: ExitStack, db: str, model: BaseChatModel | None, config: MemoryConfig | None = None
) -> MemoryGraph:
    url = _url(db)
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(model, checkpointer=checkpointer, store=store, config=config)


def _show_package(console: Console, package: ContextPackage, title: str) -> None:
    console.print(package_table(package, title=title))
    console.print(budget_bar(package))


def _run_turn(
    console: Console, graph: MemoryGraph, thread: str, context: MemoryContext, text: str
) -> None:
    cfg: Any = {"configurable": {"thread_id": thread}}
    console.print(Panel(text, title="user", border_style="cyan", expand=False))
    graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
    values = graph.get_state(cfg).values
    _show_package(console, values["context_package"], "context package for this turn")
    reply = values["messages"][-1]
    if reply.type == "ai":
        console.print(Panel(reply.text, title="assistant", border_style="green", expand=False))


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Run the scripted conversation; session 2 runs in a new process and resumes."""
    context = MemoryContext(tenant_id=args.tenant, user_id=args.user)
    from memorygraph.offline import OfflineChatModel

    with ExitStack() as stack:
        graph = _open_graph(stack, args.db, OfflineChatModel(), DEMO_CONFIG)
        if args.session == 1:
            delete_thread(graph.checkpointer, DEMO_THREAD)  # type: ignore[arg-type]
        console.rule(f"session {args.session} (process {os.getpid()})")
        for text in DEMO_SESSIONS[args.session]:
            _run_turn(console, graph, DEMO_THREAD, context, text)
    if args.session == 1:
        command = [
            sys.executable,
            "-m",
            "memorygraph.cli",
            "demo",
            "--db",
            args.db,
            "--tenant",
            args.tenant,
            "--user",
            args.user,
            "--session",
            "2",
        ]
        return subprocess.run(command, check=False).returncode
    console.print(
        f"\nThe thread lives in {args.db}. Try: memorygraph inspect --thread {DEMO_THREAD} "
        f"--db {args.db}"
    )
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, console: Console) -> int:
    """Chat on a thread; an empty line or /quit ends it."""
    context = MemoryContext(tenant_id=args.tenant, user_id=args.user)
    with ExitStack() as stack:
        graph = _open_graph(stack, args.db, resolve_model())
        cfg: Any = {"configurable": {"thread_id": args.thread}}
        console.print(
            f"thread {args.thread} on {args.db}; /quit to leave, /inspect for the package"
        )
        for line in sys.stdin:
            text = line.strip()
            if not text or text == "/quit":
                break
            if text == "/inspect":
                package = graph.get_state(cfg).values.get("context_package")
                if package is not None:
                    _show_package(console, package, "last context package")
                continue
            graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
            console.print(
                f"[green]assistant:[/green] {graph.get_state(cfg).values['messages'][-1].text}"
            )
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    """Show the last package of a thread."""
    with open_checkpointer(_url(args.db)) as checkpointer:
        graph = create_memory_graph(checkpointer=checkpointer)
        values = graph.get_state({"configurable": {"thread_id": args.thread}}).values
    package = values.get("context_package")
    if package is None:
        console.print(f"[red]no thread {args.thread!r} with a package in {args.db}[/red]")
        return EXIT_NO_THREAD
    _show_package(console, package, f"last context package of thread {args.thread}")
    return EXIT_OK


def cmd_threads(args: argparse.Namespace, console: Console) -> int:
    """List the threads in a database."""
    with open_checkpointer(_url(args.db)) as checkpointer:
        for thread in list_threads(checkpointer):
            console.print(thread)
    return EXIT_OK


def cmd_forget(args: argparse.Namespace, console: Console) -> int:
    """Delete a thread's checkpoints, and reclaim the space on SQLite."""
    with open_checkpointer(_url(args.db)) as checkpointer:
        if args.thread not in list_threads(checkpointer):
            console.print(f"[red]no thread {args.thread!r} in {args.db}[/red]")
            return EXIT_NO_THREAD
        delete_thread(checkpointer, args.thread)
    console.print(f"forgot thread {args.thread}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with ``--help`` on every command."""
    parser = argparse.ArgumentParser(prog="memorygraph", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default="memorygraph.db",
        help="SQLite file, or a URL: memory, sqlite:///x.db, postgresql://...",
    )
    common.add_argument("--tenant", default="local", help="tenant id (default: local)")
    common.add_argument("--user", default="me", help="user id (default: me)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", parents=[common], help=cmd_demo.__doc__)
    demo.add_argument(
        "--session", type=int, choices=sorted(DEMO_SESSIONS), default=1, help=argparse.SUPPRESS
    )
    demo.set_defaults(run=cmd_demo)
    for name, run in (("chat", cmd_chat), ("inspect", cmd_inspect), ("forget", cmd_forget)):
        sub = commands.add_parser(name, parents=[common], help=run.__doc__)
        sub.add_argument("--thread", required=True, help="thread id")
        sub.set_defaults(run=run)
    threads = commands.add_parser("threads", parents=[common], help=cmd_threads.__doc__)
    threads.set_defaults(run=cmd_threads)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        code: int = args.run(args, console)
    except MemoryGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
