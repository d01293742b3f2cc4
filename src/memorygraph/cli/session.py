"""The conversational commands: ``demo`` (scripted, offline) and ``chat``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from contextlib import ExitStack
from typing import Any

from langchain_core.messages import HumanMessage
from rich.console import Console

from memorygraph.checkpointers import delete_thread
from memorygraph.checkpointers.urls import redact_url
from memorygraph.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    ask_on_stdin,
    not_yours,
    open_graph,
    run_turn,
    settle_approvals,
    show_package,
)
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.errors import IdentityError
from memorygraph.offline import resolve_model

DEMO_THREAD = "demo"
DEMO_CONFIG = MemoryConfig(token_budget=700, output_reserve=150)
DEMO_SESSIONS: dict[int, list[str]] = {
    1: [
        "Hi! My name is Ana, I live in Lisbon, and I'm allergic to peanuts.",
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


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """Run the scripted conversation; session 2 runs in a new process and resumes."""
    context = MemoryContext(tenant_id=args.tenant, user_id=args.user)
    from memorygraph.offline import OfflineChatModel

    with ExitStack() as stack:
        graph = open_graph(stack, args.db, OfflineChatModel(), DEMO_CONFIG)
        if args.session == 1:
            delete_thread(graph.checkpointer, DEMO_THREAD)  # type: ignore[arg-type]
        console.rule(f"session {args.session} (process {os.getpid()})")
        for text in DEMO_SESSIONS[args.session]:
            run_turn(console, graph, DEMO_THREAD, context, text)
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
    shown = redact_url(args.db)  # a URL's password is never printed
    console.print(
        f"\nThe thread lives in {shown}. Try: memorygraph inspect --thread {DEMO_THREAD} "
        f"--db {shown}"
    )
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, console: Console) -> int:
    """Chat on a thread; an empty line or /quit ends it."""
    context = MemoryContext(tenant_id=args.tenant, user_id=args.user)
    with ExitStack() as stack:
        graph = open_graph(stack, args.db, resolve_model())
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
                    show_package(console, package, "last context package")
                continue
            try:
                result = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
            except IdentityError:
                not_yours(console, args)
                return EXIT_ERROR
            if result.get("__interrupt__"):
                console.print("remember this across threads? (y/N)")
            settle_approvals(console, graph, cfg, context, result, ask_on_stdin)
            console.print(
                f"[green]assistant:[/green] {graph.get_state(cfg).values['messages'][-1].text}"
            )
    return EXIT_OK
