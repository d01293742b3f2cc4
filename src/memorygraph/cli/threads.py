"""The commands that read or delete threads: ``inspect``, ``threads``, ``forget``, ``replay``."""

from __future__ import annotations

import argparse

from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.table import Table

from memorygraph.admin import forget_tenant, forget_thread, forget_user
from memorygraph.checkpointers import list_threads, open_checkpointer, open_store
from memorygraph.cli.common import (
    EXIT_ERROR,
    EXIT_NO_THREAD,
    EXIT_OK,
    db_url,
    show_package,
    state_archive,
    thread_owner,
)
from memorygraph.graph import create_memory_graph


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    """Show the last package of a thread, in full."""
    url = db_url(args.db)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        values = graph.get_state({"configurable": {"thread_id": args.thread}}).values
    package = values.get("context_package")
    if package is None:
        console.print(f"[red]no thread {args.thread!r} with a package in {args.db}[/red]")
        return EXIT_NO_THREAD
    show_package(console, package, f"last context package of thread {args.thread}", full=True)
    return EXIT_OK


def cmd_threads(args: argparse.Namespace, console: Console) -> int:
    """List the threads in a database: tenant, user, turns and last activity."""
    url = db_url(args.db)
    table = Table("thread", "tenant", "user", "turns", "last activity", box=SIMPLE_HEAD)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        for thread in list_threads(checkpointer):
            snapshot = graph.get_state({"configurable": {"thread_id": thread}})
            owner = thread_owner(snapshot.values)
            if args.tenant is not None and (owner is None or owner[0] != args.tenant):
                continue
            if args.user is not None and (owner is None or owner[1] != args.user):
                continue
            window = snapshot.values.get("messages") or []
            archived = state_archive(store, owner, thread, snapshot.values) if owner else []
            turns = sum(m.type == "human" for m in window) + sum(
                t.role == "human" for t in archived
            )
            table.add_row(
                thread,
                owner[0] if owner else "?",
                owner[1] if owner else "?",
                str(turns),
                (snapshot.created_at or "")[:19].replace("T", " "),
            )
    if not table.rows:
        who = " ".join(
            f"of {name} {value}"
            for name, value in (("tenant", args.tenant), ("user", args.user))
            if value is not None
        )
        console.print(f"no threads {who + ' ' if who else ''}in {args.db}", highlight=False)
        return EXIT_OK
    console.print(table)
    return EXIT_OK


def cmd_forget(args: argparse.Namespace, console: Console) -> int:
    """Forget a thread, a user or a tenant: checkpoints, facts, archive, audit; vacuums SQLite."""
    url = db_url(args.db)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        if args.thread is not None:
            if args.thread not in list_threads(checkpointer):
                console.print(f"[red]no thread {args.thread!r} in {args.db}[/red]")
                return EXIT_NO_THREAD
            report = forget_thread(
                checkpointer, args.thread, store=store, tenant_id=args.tenant, user_id=args.user
            )
            what = f"thread {args.thread}"
        elif args.user is not None:
            report = forget_user(checkpointer, store, args.tenant, args.user)
            what = f"user {args.user} of tenant {args.tenant}"
        else:
            report = forget_tenant(checkpointer, store, args.tenant)
            what = f"tenant {args.tenant}"
    console.print(
        f"forgot {what}: {len(report.threads)} thread(s), {report.store_items} store item(s)"
        + (f"; vacuumed {', '.join(report.vacuumed)}" if report.vacuumed else "")
    )
    return EXIT_OK


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    """Rebuild a logged package from its recorded state, and check that its id is the same."""
    from memorygraph.store.audit import replay_package

    with open_store(db_url(args.db)) as store:
        package = replay_package(store, args.tenant, args.user, args.package)
    show_package(console, package, f"package {args.package}, rebuilt from its recorded state")
    if package.id != args.package:
        console.print(f"[red]rebuilt package has a different id: {package.id}[/red]")
        return EXIT_ERROR
    console.print(f"same id: {package.id}")
    return EXIT_OK
