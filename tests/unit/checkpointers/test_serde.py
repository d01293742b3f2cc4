"""A graph of yours on a plain SqliteSaver loads memorygraph's records without warnings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from memorygraph import MemoryConfig
from memorygraph.checkpointers import memorygraph_serializer, register_types
from memorygraph.checkpointers._serde import RecordSerializer
from memorygraph.context import Identity
from memorygraph.packing import build_package
from memorygraph.records import ContextPackage

# LangGraph warns once per type and process: each case runs in a fresh interpreter.
SCRIPT = textwrap.dedent(
    """
    import logging, sqlite3, sys
    from dataclasses import dataclass
    from typing import Annotated
    import operator

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import START, MessagesState, StateGraph

    from memorygraph import MemoryContext, add_memory
    from memorygraph.checkpointers import open_store
    from memorygraph.records import ContextPackage


    @dataclass
    class Note:
        text: str


    class State(MessagesState):
        notes: Annotated[list[Note], operator.add]


    path, strict = sys.argv[1], sys.argv[2] == "strict"
    serde = (
        JsonPlusSerializer(allowed_msgpack_modules=[(__name__, "Note")]) if strict else None
    )
    saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False), serde=serde)
    builder = StateGraph(State)
    builder.add_node("agent", lambda state: {"messages": [AIMessage("ok")], "notes": [Note("n")]})
    builder.add_edge(START, "agent")
    with_memory = add_memory(builder, before="agent")
    with open_store("memory") as store:
        graph = with_memory.compile(checkpointer=saver, store=store)
        cfg = {"configurable": {"thread_id": "t"}}
        for text in ("Hi, I like jazz and I'm planning a trip to Japan.", "Again."):
            graph.invoke({"messages": [HumanMessage(text)]}, cfg,
                         context=MemoryContext("acme", "ana"))
        values = graph.get_state(cfg).values
    assert isinstance(values["context_package"], ContextPackage), values["context_package"]
    assert values["notes"] and all(type(n) is Note for n in values["notes"]), values["notes"]
    print("ran")
    """
)


def run(tmp_path: Path, mode: str) -> str:
    script = tmp_path / "graph.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / f"{mode}.db"), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "ran" in done.stdout, done.stderr
    return done.stderr


def test_a_plain_sqlite_saver_loads_the_records_without_a_warning(tmp_path: Path) -> None:
    logged = run(tmp_path, "plain")
    assert "memorygraph.records" not in logged, logged
    # The user's own class still loads (LangGraph's permissive default is kept for it).
    assert "Deserializing unregistered type __main__.Note" in logged


def test_a_strict_saver_gains_the_records_and_keeps_the_users_types(tmp_path: Path) -> None:
    logged = run(tmp_path, "strict")
    assert "memorygraph.records" not in logged and "Blocked" not in logged, logged


OLD_PATH_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from memorygraph.checkpointers import memorygraph_serializer
    from memorygraph.kinds import ItemKind, Priority, TrustLevel

    serde = memorygraph_serializer()
    values = [ItemKind.FACT, Priority.HIGH, TrustLevel.USER_CLAIMED]
    # Write them as a checkpoint did when the enums lived in memorygraph.records.
    for cls in (ItemKind, Priority, TrustLevel):
        cls.__module__ = "memorygraph.records"
    written = serde.dumps_typed(values)
    for cls in (ItemKind, Priority, TrustLevel):
        cls.__module__ = "memorygraph.kinds"
    assert b"memorygraph.records" in written[1] and b"memorygraph.kinds" not in written[1]
    loaded = serde.loads_typed(written)
    assert loaded == values, loaded
    assert [type(v) for v in loaded] == [ItemKind, Priority, TrustLevel], loaded
    print("loaded")
    """
)


def test_checkpoints_that_name_the_enums_under_records_still_load() -> None:
    done = subprocess.run(
        [sys.executable, "-c", OLD_PATH_SCRIPT], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded"
    assert "Blocked" not in done.stderr and "deserializ" not in done.stderr.lower(), done.stderr


def _package(text: str) -> ContextPackage:
    who = Identity(thread_id="t", tenant_id="acme", user_id="ana", scopes=())
    state = {"messages": [HumanMessage(text, id="h1")], "summary": None}
    return build_package(state, identity=who, config=MemoryConfig())


def test_a_package_is_packed_once_to_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, plain = memorygraph_serializer(), JsonPlusSerializer(allowed_msgpack_modules=None)
    assert isinstance(ours, RecordSerializer)
    package = _package("Plan a trip to Kyoto.")
    message = HumanMessage("hi", id="h2")
    checkpoint = {
        "v": 4,
        "id": "c1",
        "channel_values": {"context_package": package, "messages": [message], "usage": None},
    }
    without = {**checkpoint, "channel_values": {"messages": [message]}}
    dumps: list[str] = []
    original = ContextPackage.model_dump

    def model_dump(self: ContextPackage, **kwargs: Any) -> dict[str, Any]:
        dumps.append(self.id)
        return original(self, **kwargs)

    monkeypatch.setattr(ContextPackage, "model_dump", model_dump)
    for _ in range(3):  # the first packing, then the kept bytes: the same each time
        for value in (package, checkpoint, without, [package]):
            assert ours.dumps_typed(value) == plain.dumps_typed(value)
    # Only the plain serializer, and a list (left to LangGraph), dump it again.
    assert len(dumps) == 1 + 3 * 3 + 3 * 1
    assert ours.loads_typed(ours.dumps_typed(checkpoint))["channel_values"]["context_package"] == (
        package
    )
    # A new package of the same content is another object: packed afresh, the same bytes.
    twin = _package("Plan a trip to Kyoto.")
    assert twin is not package and ours.dumps_typed(twin) == ours.dumps_typed(package)


def test_a_saver_narrowed_by_with_allowlist_keeps_packing_once() -> None:
    saver = InMemorySaver(serde=memorygraph_serializer())
    narrowed = register_types(saver, extra_types=[Path])
    assert narrowed is not saver and isinstance(narrowed.serde, RecordSerializer)
