"""Worker processes for the crash and concurrency tests: ``python -m tests.workers JSON``.

A worker opens the checkpointer and the store at ``url`` and runs ``turns``
turns on each of its ``threads``, one turn of every thread before the next turn
of any (so all its threads are in flight at once). Turn ``k`` of thread ``t``
sends ``"<t> turn <k>"`` with the message id ``"<t>-h<k>"``; the model answers
``"ack: <t> turn <k>"``, so a reply that lands on the wrong thread or turn shows.

With ``crash``, the worker stops dead at one point of one turn and waits to be
killed: ``{"thread": t, "turn": k, "at": "after:<step>" | "model" | "facts"}``.
``after:<step>`` blocks right after the checkpoint of that LangGraph step was
saved (1: after extract_facts, 2: after summarize, 3: after pack_context),
``model`` inside the model call, ``archive`` right after the first folded turn
was written to the archive (in summarize), ``facts`` right after durable facts
were written (in the approve node). It writes ``marker`` first, so the test knows
when to send SIGKILL. (With LangGraph's default ``durability="async"`` a
checkpoint is saved while the next node already runs, so "after" a step means
"with that checkpoint saved"; ``durability="sync"`` makes it "before the next
node started" as well.)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.store.base import BaseStore, PutOp
from langgraph.types import Command

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.graph import MemoryGraph
from tests.fakes import RecordingChatModel

SMALL = {"summarize_at_messages": 6, "keep_messages": 2}
"""A window that folds every few turns, so the archive is exercised."""


def request_text(thread: str, turn: int) -> str:
    return f"{thread} turn {turn}"


def reply_text(request: str) -> str:
    return f"ack: {request}"


def _block(marker: str | None, why: str) -> None:
    if marker:
        # Written whole, then renamed: the test kills the worker as soon as the
        # marker exists, and must never see it created but still empty.
        partial = Path(f"{marker}.partial")
        partial.write_text(why)
        partial.replace(marker)
    time.sleep(3600)  # until SIGKILL


def echo_model(*, block_on: str | None = None, marker: str | None = None) -> RecordingChatModel:
    """A model that acknowledges the request; it hangs on the request ``block_on``."""

    def respond(messages: Sequence[BaseMessage]) -> AIMessage:
        request = str(messages[-1].content)
        if block_on is not None and request == block_on:
            _block(marker, "model")
        return AIMessage(reply_text(request))

    return RecordingChatModel(respond=respond)


def open_memory_graph(
    stack: Any, url: str, model: RecordingChatModel, **config: Any
) -> MemoryGraph:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(
        model, checkpointer=checkpointer, store=store, config=MemoryConfig(**config)
    )


def _arm_after_step(
    graph: MemoryGraph, thread: str, step: int, marker: str | None
) -> Callable[[], None]:
    saver: Any = graph.checkpointer
    original = saver.put
    armed: dict[str, Any] = {"on": False, "input": None}

    def put(config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        saved = original(config, checkpoint, metadata, new_versions)
        if armed["on"] and config["configurable"]["thread_id"] == thread:
            # Steps count on across a thread's runs: this run's input checkpoint is
            # step n, then n + 1 before the first node, n + 2 after it, and so on.
            if metadata.get("source") == "input":
                armed["input"] = metadata["step"]
            elif armed["input"] is not None and metadata.get("step") == armed["input"] + 1 + step:
                _block(marker, f"after:{step}")
        return saved

    saver.put = put
    return lambda: armed.update(on=True)


def _arm_archive(store: BaseStore, marker: str | None) -> None:
    original = store.put

    def put(namespace: tuple[str, ...], key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        saved = original(namespace, key, value, *args, **kwargs)
        if "archive" in namespace:
            _block(marker, "archive")
        return saved

    store.put = put  # type: ignore[method-assign]


def _arm_facts(store: BaseStore, marker: str | None) -> None:
    original = store.batch

    def batch(ops: Any) -> Any:
        ops = list(ops)
        results = original(ops)
        if any(isinstance(op, PutOp) and op.namespace[-1] == "facts" for op in ops):
            _block(marker, "facts")
        return results

    store.batch = batch  # type: ignore[method-assign]


def run_turns(
    url: str,
    *,
    tenant: str,
    user: str,
    threads: Sequence[str],
    start: int,
    stop: int,
    config: dict[str, Any] | None = None,
    crash: dict[str, Any] | None = None,
    marker: str | None = None,
    durability: str = "async",
    writer: str = "",
) -> dict[str, Any]:
    """Run turns ``start`` to ``stop - 1`` on every thread; returns timings and counts.

    ``durability`` is LangGraph's: ``async`` (its default) saves each checkpoint
    while the next step runs, ``sync`` before it starts, which makes "killed
    right after this checkpoint" also mean "before the next node started".
    ``writer`` tags the requests (``"<thread><writer> turn <k>"``), for two
    writers on one thread.
    """
    from contextlib import ExitStack

    context = MemoryContext(tenant_id=tenant, user_id=user)
    block_on = None
    if crash is not None and crash["at"] == "model":
        block_on = request_text(crash["thread"], crash["turn"])
    model = echo_model(block_on=block_on, marker=marker)
    began = time.perf_counter()
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, model, **(config or SMALL))
        arm = None
        if crash is not None and crash["at"].startswith("after:"):
            arm = _arm_after_step(graph, crash["thread"], int(crash["at"][6:]), marker)
        for turn in range(start, stop):
            for thread in threads:
                if crash is not None and (thread, turn) == (crash["thread"], crash["turn"]):
                    if arm is not None:
                        arm()
                    if crash["at"] == "facts":
                        _arm_facts(graph.store, marker)  # type: ignore[arg-type]
                    if crash["at"] == "archive":
                        _arm_archive(graph.store, marker)  # type: ignore[arg-type]
                text = request_text(thread + writer, turn)
                cfg = {"configurable": {"thread_id": thread}}
                message = HumanMessage(text, id=f"{thread}{writer}-h{turn}")
                result = graph.invoke(
                    {"messages": [message]}, cfg, context=context, durability=durability
                )
                if "__interrupt__" in result:  # an approval question: approve everything
                    ids = [c["id"] for c in result["__interrupt__"][0].value["candidates"]]
                    graph.invoke(Command(resume={"approve": ids}), cfg, context=context)
    return {
        "seconds": time.perf_counter() - began,
        "turns": (stop - start) * len(threads),
        "model_calls": len(model.calls),
    }


def transcript(graph: MemoryGraph, tenant: str, user: str, thread: str) -> list[tuple[str, str]]:
    """The whole thread, oldest first: the archive, then the working window.

    Also checks the bookkeeping that joins them: the archive's positions run
    0, 1, 2, ... without a gap, the summary counts exactly the archived turns,
    and no message is in both.
    """
    from memorygraph.store.archive import read_archive

    assert graph.store is not None
    archived = read_archive(graph.store, (tenant, user, thread))
    assert [turn.seq for turn in archived] == list(range(len(archived)))
    values = graph.get_state({"configurable": {"thread_id": thread}}).values
    summary = values.get("summary")
    assert (summary.covered_turns if summary is not None else 0) == len(archived)
    window = list(values.get("messages") or [])
    ids = [turn.id for turn in archived] + [str(m.id) for m in window]
    assert len(ids) == len(set(ids)), "a message is both archived and in the window"
    return [(turn.role, turn.content) for turn in archived] + [
        (m.type, str(m.content)) for m in window
    ]


def expected(thread: str, turns: int) -> list[tuple[str, str]]:
    """What `transcript` must return after ``turns`` complete turns."""
    pairs: list[tuple[str, str]] = []
    for turn in range(turns):
        text = request_text(thread, turn)
        pairs += [("human", text), ("ai", reply_text(text))]
    return pairs


def main(argv: Sequence[str]) -> None:
    """Run the worker described by the JSON argument, and print its result as JSON."""
    args = json.loads(argv[0])
    print(json.dumps(run_turns(**args)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
