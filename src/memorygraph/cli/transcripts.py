"""Moving messages in and out: ``ingest`` (JSONL) and ``export``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memorygraph.checkpointers import list_threads, open_checkpointer, open_store
from memorygraph.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_NO_THREAD,
    EXIT_OK,
    EXIT_USAGE,
    db_url,
    not_yours,
    open_graph,
    state_archive,
    thread_owner,
)
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.errors import MemoryGraphError
from memorygraph.graph import create_memory_graph
from memorygraph.nodes import build_package
from memorygraph.state import validate_messages

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
        graph = open_graph(stack, args.db, None)
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
    url = db_url(args.db)
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        if args.thread not in list_threads(checkpointer):
            console.print(f"[red]no thread {args.thread!r} in {args.db}[/red]")
            return EXIT_NO_THREAD
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        values = graph.get_state({"configurable": {"thread_id": args.thread}}).values
        owner = thread_owner(values)
        if owner is not None and owner != (args.tenant, args.user):
            not_yours(console, args)
            return EXIT_ERROR
        archive = state_archive(store, (args.tenant, args.user), args.thread, values)
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
