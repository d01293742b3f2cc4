"""The ``memorygraph`` command: demo, chat, ingest, inspect, export, threads, forget, replay.

Exit codes scripts can rely on: 0 success, 1 a memorygraph error (the message
says what to fix), 2 bad usage, 3 the thread does not exist, 4 the input file
has bad lines (nothing was written).

The read-only commands (``inspect``, ``threads``, ``export``, ``replay``) never
create a database: a SQLite file that is not there exits 1 with the path looked
for. ``export`` and ``chat`` on a thread that belongs to another tenant or user
than ``--tenant``/``--user`` exit 1 and say so (``threads`` shows each thread's owner).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.types import Command
from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from memorygraph.checkpointers import delete_thread, list_threads, open_checkpointer, open_store
from memorygraph.checkpointers._urls import parse_url, redact_url
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.display import budget_bar, compact_table, package_table
from memorygraph.errors import BackendError, IdentityError, MemoryGraphError
from memorygraph.graph import MemoryGraph, create_memory_graph
from memorygraph.nodes import build_package
from memorygraph.records import ContextPackage
from memorygraph.state import validate_messages
from memorygraph.store.archive import read_archive

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_THREAD, EXIT_BAD_INPUT = 0, 1, 2, 3, 4
EXIT_CODES = (
    "exit codes: 0 ok, 1 memorygraph error, 2 bad usage, 3 no such thread, "
    "4 bad lines in the input file (nothing written)"
)

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


def _url(db: str) -> str:
    return db if db == "memory" or "://" in db else f"sqlite:///{db}"


def _missing_database(db: str) -> str | None:
    """Why a read-only command cannot run on ``db``: a SQLite file that does not exist."""
    try:
        target = parse_url(_url(db))
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


def _owner(values: dict[str, Any]) -> tuple[str, str] | None:
    package = values.get("context_package")
    if isinstance(package, ContextPackage) and package.tenant_id:
        return package.tenant_id, package.user_id
    return None


def _not_yours(console: Console, args: argparse.Namespace) -> None:
    console.print(
        f"[red]error:[/red] thread {args.thread!r} belongs to another tenant or user than "
        f"--tenant {args.tenant} --user {args.user}. Pass the owner's --tenant and --user; "
        f"memorygraph threads --db {args.db} shows each thread's tenant and user.",
        highlight=False,
    )


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


def _show_package(
    console: Console, package: ContextPackage, title: str, *, full: bool = False
) -> None:
    # One line per item by default (fits 80 columns); ids, exclusion details and
    # longer content in the full table, which ``inspect`` prints.
    console.print((package_table if full else compact_table)(package, title=title))
    console.print(budget_bar(package))


def _approve_all(payload: dict[str, Any]) -> dict[str, Any]:
    return {"approve": [candidate["id"] for candidate in payload["candidates"]]}


def _ask_on_stdin(payload: dict[str, Any]) -> dict[str, Any]:
    answer = sys.stdin.readline().strip().casefold()
    ids = [candidate["id"] for candidate in payload["candidates"]]
    return {"approve": ids} if answer in ("y", "yes") else {"reject": ids}


def _settle_approvals(
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


def _run_turn(
    console: Console,
    graph: MemoryGraph,
    thread: str,
    context: MemoryContext,
    text: str,
    decide: Callable[[dict[str, Any]], dict[str, Any]] = _approve_all,
) -> None:
    cfg: Any = {"configurable": {"thread_id": thread}}
    console.print(Panel(text, title="user", border_style="cyan", expand=False))
    result = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
    _settle_approvals(console, graph, cfg, context, result, decide)
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
            try:
                result = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
            except IdentityError:
                _not_yours(console, args)
                return EXIT_ERROR
            if result.get("__interrupt__"):
                console.print("remember this across threads? (y/N)")
            _settle_approvals(console, graph, cfg, context, result, _ask_on_stdin)
            console.print(
                f"[green]assistant:[/green] {graph.get_state(cfg).values['messages'][-1].text}"
            )
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    """Show the last package of a thread, in full."""
    missing = _missing_database(args.db)
    if missing:
        console.print(f"[red]error:[/red] {missing}", highlight=False)
        return EXIT_ERROR
    url = _url(args.db)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        values = graph.get_state({"configurable": {"thread_id": args.thread}}).values
    package = values.get("context_package")
    if package is None:
        console.print(f"[red]no thread {args.thread!r} with a package in {args.db}[/red]")
        return EXIT_NO_THREAD
    _show_package(console, package, f"last context package of thread {args.thread}", full=True)
    return EXIT_OK


def cmd_threads(args: argparse.Namespace, console: Console) -> int:
    """List the threads in a database: tenant, user, turns and last activity."""
    missing = _missing_database(args.db)
    if missing:
        console.print(f"[red]error:[/red] {missing}", highlight=False)
        return EXIT_ERROR
    url = _url(args.db)
    table = Table("thread", "tenant", "user", "turns", "last activity", box=SIMPLE_HEAD)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        for thread in list_threads(checkpointer):
            snapshot = graph.get_state({"configurable": {"thread_id": thread}})
            owner = _owner(snapshot.values)
            if args.tenant is not None and (owner is None or owner[0] != args.tenant):
                continue
            if args.user is not None and (owner is None or owner[1] != args.user):
                continue
            window = snapshot.values.get("messages") or []
            archived = read_archive(store, (*owner, thread)) if owner else []
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
    from memorygraph.admin import forget_tenant, forget_thread, forget_user

    url = _url(args.db)
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

    missing = _missing_database(args.db)
    if missing:
        console.print(f"[red]error:[/red] {missing}", highlight=False)
        return EXIT_ERROR
    with open_store(_url(args.db)) as store:
        package = replay_package(store, args.tenant, args.user, args.package)
    _show_package(console, package, f"package {args.package}, rebuilt from its recorded state")
    if package.id != args.package:
        console.print(f"[red]rebuilt package has a different id: {package.id}[/red]")
        return EXIT_ERROR
    console.print(f"same id: {package.id}")
    return EXIT_OK


_ROLES: dict[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "human": HumanMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
    "system": SystemMessage,
}


@dataclass
class _Transcript:
    messages: list[BaseMessage]
    errors: list[str]


def _parse_line(text: str) -> BaseMessage:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - {"role", "content", "name", "created_at"})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; use role, content, name, created_at")
    role = record.get("role")
    if role not in _ROLES:
        raise ValueError(f"role must be one of user, assistant, system; got {role!r}")
    content = record.get("content")
    if not isinstance(content, str):
        raise ValueError(f"content must be a string, got {type(content).__name__}")
    name = record.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name must be a non-blank string, got {name!r}")
    kwargs: dict[str, Any] = {}
    created_at = record.get("created_at")
    if created_at is not None:
        try:
            datetime.fromisoformat(str(created_at))
        except ValueError:
            raise ValueError(f"created_at must be an ISO 8601 time, got {created_at!r}") from None
        kwargs["created_at"] = str(created_at)
    message = _ROLES[role](content, name=name, additional_kwargs=kwargs)
    validate_messages([], [message])  # size and encoding, as the graph checks them
    return message


def _read_transcript(path: Path) -> _Transcript:
    """Parse a JSONL transcript; every bad line is reported with its number."""
    transcript = _Transcript([], [])
    with path.open(encoding="utf-8", errors="surrogateescape") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                message = _parse_line(text)
            except (ValueError, MemoryGraphError) as exc:
                transcript.errors.append(f"{path}:{number}: {exc}")
                continue
            transcript.messages.append(message)
    return transcript


def _batches(messages: Sequence[BaseMessage], size: int) -> list[list[BaseMessage]]:
    """Cut messages into runs of whole turns (a user message starts a turn), ``size`` or so each."""
    batches: list[list[BaseMessage]] = []
    for message in messages:
        starts_turn = isinstance(message, HumanMessage)
        if not batches or (starts_turn and len(batches[-1]) >= size):
            batches.append([])
        batches[-1].append(message)
    return batches


def cmd_ingest(args: argparse.Namespace, console: Console) -> int:
    """Load a chat exported as JSONL (role, content, name, created_at) into a thread."""
    path = Path(args.file)
    if not path.is_file():
        console.print(f"[red]error:[/red] no such file: {path}")
        return EXIT_USAGE
    transcript = _read_transcript(path)
    if transcript.errors and not args.skip_bad:
        for error in transcript.errors[:20]:
            console.print(f"[red]bad line[/red] {error}", highlight=False)
        more = len(transcript.errors) - 20
        console.print(
            (f"... and {more} more\n" if more > 0 else "")
            + f"{len(transcript.errors)} bad line(s); nothing was written. "
            "Fix them, or pass --skip-bad to ingest the other lines."
        )
        return EXIT_BAD_INPUT
    for error in transcript.errors:
        console.print(f"[yellow]skipped[/yellow] {error}", highlight=False)
    context = MemoryContext(tenant_id=args.tenant, user_id=args.user)
    cfg: Any = {"configurable": {"thread_id": args.thread}}
    with ExitStack() as stack:
        graph = _open_graph(stack, args.db, None)
        # Check everything before the first write, so a bad transcript never half-lands.
        existing = graph.get_state(cfg).values.get("messages", [])
        validate_messages(existing, transcript.messages)
        identity = resolve_identity(context, cfg)
        for message in transcript.messages:
            if isinstance(message, HumanMessage):
                build_package(
                    {"messages": [message]}, identity=identity, config=graph.memory_config
                )
        # One run per batch of turns: each run extracts, folds and packs, so the
        # working window stays bounded however long the transcript is.
        batches = _batches(transcript.messages, args.batch)
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
            task = progress.add_task(f"ingesting {path.name}", total=len(transcript.messages))
            for batch in batches:
                update: Any = {"messages": batch}
                graph.invoke(update, cfg, context=context)
                progress.advance(task, len(batch))
        window = len(graph.get_state(cfg).values.get("messages", []))
    console.print(
        f"ingested {len(transcript.messages)} message(s) in {len(batches)} run(s) into thread "
        f"{args.thread} ({window} in the working window, the rest summarized and archived)"
        + (f"; skipped {len(transcript.errors)} bad line(s)" if transcript.errors else "")
    )
    return EXIT_OK


def _message_record(message: BaseMessage) -> dict[str, Any]:
    record: dict[str, Any] = {"id": message.id, "role": message.type, "content": message.content}
    if message.name:
        record["name"] = message.name
    if message.additional_kwargs.get("created_at"):
        record["created_at"] = message.additional_kwargs["created_at"]
    if isinstance(message, AIMessage) and message.tool_calls:
        record["tool_calls"] = [dict(call) for call in message.tool_calls]
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        record["tool_call_id"] = tool_call_id
    return record


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if value is not None else None


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    """Write a thread as JSON: messages, archive, summary, facts, last package, usage."""
    missing = _missing_database(args.db)
    if missing:
        console.print(f"[red]error:[/red] {missing}", highlight=False)
        return EXIT_ERROR
    url = _url(args.db)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        if args.thread not in list_threads(checkpointer):
            console.print(f"[red]no thread {args.thread!r} in {args.db}[/red]")
            return EXIT_NO_THREAD
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        values = graph.get_state({"configurable": {"thread_id": args.thread}}).values
        owner = _owner(values)
        if owner is not None and owner != (args.tenant, args.user):
            _not_yours(console, args)
            return EXIT_ERROR
        archive = read_archive(store, (args.tenant, args.user, args.thread))
    document = {
        "thread_id": args.thread,
        "tenant_id": args.tenant,
        "user_id": args.user,
        "messages": [_message_record(m) for m in values.get("messages", [])],
        "archive": [turn.model_dump(mode="json") for turn in archive],
        "summary": _dump(values.get("summary")),
        "facts": [fact.model_dump(mode="json") for fact in values.get("facts") or []],
        "context_package": _dump(values.get("context_package")),
        "usage": _dump(values.get("usage")),
    }
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out is None or args.out == "-":
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)  # atomic: a reader never sees half a file
    console.print(f"wrote thread {args.thread} to {out}", highlight=False)
    return EXIT_OK


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with ``--help`` on every command."""
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "forget" and args.thread is None and args.tenant is None:
        parser.error("forget needs --thread, --tenant, or --tenant with --user")
    console = Console()
    try:
        code: int = args.run(args, console)
    except MemoryGraphError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
