"""The ``memorygraph`` command: demo, chat, ingest, inspect, export, threads, forget, replay.

Exit codes scripts can rely on: 0 success, 1 a memorygraph error (the message
says what to fix), 2 bad usage, 3 the thread does not exist, 4 the input file
has bad lines (nothing was written).

Only ``demo``, ``chat`` and ``ingest`` start a conversation, so only they may
create a database. Every other command (``inspect``, ``threads``, ``export``,
``replay``, ``forget``) on a SQLite file that is not there exits 1 with the path
looked for, and creates nothing: a forget on a mistyped path does not report
success. ``export`` and ``chat`` on a thread that belongs to another tenant or user
than ``--tenant``/``--user`` exit 1 and say so (``threads`` shows each thread's owner).

"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from memorygraph.cli.common import EXIT_CODES, EXIT_ERROR, missing_database
from memorygraph.cli.session import DEMO_SESSIONS, cmd_chat, cmd_demo
from memorygraph.cli.threads import cmd_forget, cmd_inspect, cmd_replay, cmd_threads
from memorygraph.cli.transcripts import cmd_export, cmd_ingest
from memorygraph.errors import MemoryGraphError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


CREATES_DATABASE = frozenset({"demo", "chat", "ingest"})
"""The commands that start a conversation; every other one needs its database to exist."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with ``--help`` on every command."""
    return _build()[0]


def command_names() -> list[str]:
    """Every command, in the order ``--help`` lists them."""
    return list(_build()[1])


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="memorygraph", description=__doc__.split("\n")[0], epilog=EXIT_CODES
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default="memorygraph.db",
        help="SQLite file, or a URL: memory, sqlite:///x.db, postgresql://..., redis://...",
    )
    common.add_argument("--tenant", default="local", help="tenant id (default: local)")
    common.add_argument("--user", default="me", help="user id (default: me)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", parents=[common], help=cmd_demo.__doc__)
    demo.add_argument(
        "--session", type=int, choices=sorted(DEMO_SESSIONS), default=1, help=argparse.SUPPRESS
    )
    demo.set_defaults(run=cmd_demo)
    for name, run in (("chat", cmd_chat), ("inspect", cmd_inspect)):
        sub = commands.add_parser(name, parents=[common], help=run.__doc__)
        sub.add_argument("--thread", required=True, help="thread id")
        sub.set_defaults(run=run)
    forget = commands.add_parser("forget", help=cmd_forget.__doc__, epilog=EXIT_CODES)
    forget.add_argument(
        "--db",
        default="memorygraph.db",
        help="SQLite file, or a URL: memory, sqlite:///x.db, postgresql://..., redis://...",
    )
    forget.add_argument("--thread", help="forget this thread")
    forget.add_argument("--user", help="forget this user of --tenant (every thread they own)")
    forget.add_argument("--tenant", help="forget this tenant, or name the tenant of --user")
    forget.set_defaults(run=cmd_forget)
    replay = commands.add_parser("replay", parents=[common], help=cmd_replay.__doc__)
    replay.add_argument("--package", required=True, help="package id from the audit trace")
    replay.set_defaults(run=cmd_replay)
    threads = commands.add_parser("threads", help=cmd_threads.__doc__, epilog=EXIT_CODES)
    threads.add_argument(
        "--db",
        default="memorygraph.db",
        help="SQLite file, or a URL: memory, sqlite:///x.db, postgresql://...",
    )
    threads.add_argument("--tenant", help="only this tenant's threads (default: every tenant)")
    threads.add_argument("--user", help="only this user's threads (default: every user)")
    threads.set_defaults(run=cmd_threads)
    ingest = commands.add_parser(
        "ingest", parents=[common], help=cmd_ingest.__doc__, epilog=EXIT_CODES
    )
    ingest.add_argument("file", help="JSONL file, one message a line")
    ingest.add_argument("--thread", required=True, help="thread id to add the messages to")
    ingest.add_argument(
        "--skip-bad", action="store_true", help="skip bad lines (reported) instead of failing"
    )
    ingest.add_argument(
        "--batch",
        type=_positive,
        default=20,
        metavar="N",
        help="messages per graph run, in whole turns (default: 20)",
    )
    ingest.set_defaults(run=cmd_ingest)
    export = commands.add_parser(
        "export", parents=[common], help=cmd_export.__doc__, epilog=EXIT_CODES
    )
    export.add_argument("--thread", required=True, help="thread id")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(run=cmd_export)
    for name, sub in commands.choices.items():
        sub.set_defaults(needs_database=name not in CREATES_DATABASE)
    return parser, dict(commands.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "forget" and args.thread is None and args.tenant is None:
        parser.error("forget needs --thread, --tenant, or --tenant with --user")
    console = Console()
    missing = missing_database(args.db) if args.needs_database else None
    if missing:
        console.print(f"[red]error:[/red] {missing}", highlight=False)
        return EXIT_ERROR
    try:
        code: int = args.run(args, console)
    except MemoryGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_ERROR
    return code
