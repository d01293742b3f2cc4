"""Back-references resolve against recent turns, entities, tool calls and decisions, or ask."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from memorygraph import MemoryConfig, Priority
from memorygraph.context import Identity
from memorygraph.facts.references import resolve_references
from memorygraph.packing import build_package
from memorygraph.records import Fact, ResolvedReference, TaskState

HOTELS = AIMessage("Here are three:\n1. Hotel Sakura\n2. Hotel Ume\n3. Hotel Matsu", id="a1")


def resolve(text: str, *history: BaseMessage, **kwargs: object) -> list[ResolvedReference]:
    return resolve_references(HumanMessage(text, id="now"), history=list(history), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Book the second one.", "Hotel Ume"),
        ("the first option please", "Hotel Sakura"),
        ("I'll take the last one", "Hotel Matsu"),
        ("Option 3.", "Hotel Matsu"),
    ],
)
def test_ordinals_count_in_the_latest_list(text: str, expected: str) -> None:
    [ref] = resolve(text, HumanMessage("Find hotels in Kyoto.", id="h1"), HOTELS)
    assert (ref.entity_id, ref.requires_clarification, ref.entity_type) == (
        expected,
        False,
        "list_item",
    )
    assert "a1" in ref.reason


def test_an_ordinal_beyond_the_list_or_without_one_asks() -> None:
    [beyond] = resolve("the fifth one", HOTELS)
    assert beyond.requires_clarification and beyond.candidates == [
        "Hotel Sakura",
        "Hotel Ume",
        "Hotel Matsu",
    ]
    [none] = resolve("the second one", HumanMessage("hello", id="h1"))
    assert none.requires_clarification and none.entity_id is None


def test_two_lists_in_one_turn_are_ambiguous_unless_the_noun_picks_one() -> None:
    both = AIMessage(
        "Hotels:\n1. Sakura Inn\n2. Ume Hotel\n\nTours:\n- Temple tour\n- Food tour", id="a1"
    )
    [ref] = resolve("the second one", both)
    assert ref.requires_clarification and ref.candidates == ["Ume Hotel", "Food tour"]
    [tour] = resolve("the second tour", both)
    assert tour.entity_id == "Food tour" and not tour.requires_clarification


def test_it_resolves_to_the_one_entity_of_the_last_exchange_or_asks() -> None:
    one = [HumanMessage("Open case C-1042.", id="h1"), AIMessage("Case C-1042 is open.", id="a1")]
    [ref] = resolve("Close it.", *one)
    assert ref.entity_id == "C-1042" and not ref.requires_clarification
    two = [
        HumanMessage("Compare case C-1042 with case C-2077.", id="h1"),
        AIMessage("C-2077 is newer.", id="a1"),
    ]
    [ref] = resolve("Remove it.", *two)
    assert ref.requires_clarification and ref.candidates == ["C-1042", "C-2077"]
    task = TaskState(task_name="review", entity_ids={"case C-9": "C-9"})
    [fallback] = resolve("Close it.", HumanMessage("hello", id="h1"), task=task)
    assert fallback.entity_id == "C-9" and fallback.confidence == 0.6


def test_do_that_again_repeats_the_last_action() -> None:
    call = AIMessage("", id="a1", tool_calls=[{"name": "search_flights", "args": {}, "id": "c1"}])
    result = ToolMessage("3 flights", tool_call_id="c1", id="t1")
    [ref] = resolve("Do that again.", HumanMessage("Find flights.", id="h1"), call, result)
    assert (ref.entity_type, ref.entity_id) == ("tool_call", "search_flights")
    two = AIMessage(
        "",
        id="a2",
        tool_calls=[{"name": "a", "args": {}, "id": "c2"}, {"name": "b", "args": {}, "id": "c3"}],
    )
    [ambiguous] = resolve("do it again", two)
    assert ambiguous.requires_clarification and ambiguous.candidates == ["a", "b"]
    [request] = resolve(
        "Do that again",
        HumanMessage("Translate this to French.", id="h1"),
        AIMessage("Voilà.", id="a1"),
    )
    assert (request.entity_type, request.entity_id) == ("request", "h1")


def test_same_as_before_uses_the_earlier_decision() -> None:
    decision = Fact(id="d1", key="decision", value="a window table at 8pm")
    [ref] = resolve("Book Friday, same as before.", facts=[decision])
    assert ref.entity_id == "a window table at 8pm"
    other = Fact(id="d2", key="decision", value="the red sofa")
    [ambiguous] = resolve("Same as before.", facts=[decision, other])
    assert ambiguous.requires_clarification
    [picked] = resolve("Same table as before.", facts=[decision, other])
    assert picked.entity_id == "a window table at 8pm"


def test_not_every_ordinal_is_a_reference() -> None:
    assert resolve("It was the first time I went there.", HOTELS) == []
    assert resolve("We met on the first of May.", HOTELS) == []


def test_an_ambiguous_reference_becomes_a_critical_clarification_item() -> None:
    refs = resolve(
        "Remove it.",
        HumanMessage("Compare case C-1042 with case C-2077.", id="h1"),
        AIMessage("Done.", id="a1"),
    )
    state = {"messages": [HumanMessage("Remove it.", id="now")], "references": refs}
    who = Identity(thread_id="t", tenant_id="acme", user_id="ana", scopes=())
    package = build_package(
        state, identity=who, config=MemoryConfig(), now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    [item] = [i for i in package.items if i.kind == "clarification"]
    assert item.priority is Priority.CRITICAL
    assert "C-1042; C-2077" in item.content and "do not guess" in item.content
    resolved = resolve("Book the second one.", HOTELS)
    package = build_package(
        {"messages": [HumanMessage("Book the second one.", id="now")], "references": resolved},
        identity=who,
        config=MemoryConfig(),
    )
    assert not [i for i in package.items if i.kind == "clarification"]
    assert any("Hotel Ume" in i.content for i in package.items if i.id == "references")
