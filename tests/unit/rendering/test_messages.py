"""`render_messages` renders a package once while its items stay in memory."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from memorygraph import ContextPackage, MemoryConfig
from memorygraph.caching import BoundedCache, ObjectCache
from memorygraph.context import Identity
from memorygraph.packing import build_package, candidates
from memorygraph.rendering import messages as rendering

WHO = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())


def package(text: str = "Plan the trip to Kyoto.") -> ContextPackage:
    return build_package(
        {"messages": [HumanMessage("hello", id="h0"), HumanMessage(text, id="h1")]},
        identity=WHO,
        config=MemoryConfig(),
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    # Empty caches: items and renders made by earlier tests would be found.
    monkeypatch.setattr(rendering, "_RENDERED", BoundedCache(rendering._RENDERED.size))
    monkeypatch.setattr(rendering, "_NATIVE", ObjectCache(rendering._NATIVE.entries.size))
    monkeypatch.setattr(candidates, "_TURN_ITEMS", BoundedCache(candidates._TURN_ITEMS.size))
    calls: list[int] = []
    render = rendering._render

    def counted(items: Any) -> Any:
        calls.append(len(items))
        return render(items)

    monkeypatch.setattr(rendering, "_render", counted)
    return calls


def test_the_packed_package_reuses_the_render_its_exact_count_made(renders: list[int]) -> None:
    built = package()
    assert len(renders) == 1  # the draft, counted exactly
    first, second = built.to_messages(), built.to_messages()
    assert len(renders) == 1
    assert first == second
    assert first[-1].content == "Plan the trip to Kyoto."


def test_each_call_returns_its_own_messages(renders: list[int]) -> None:
    built = package()
    first = built.to_messages()
    first[-1].content = "changed by the caller"
    first.append(HumanMessage("appended by the caller"))
    again = built.to_messages()
    assert again[-1].content == "Plan the trip to Kyoto."
    assert len(again) == len(first) - 1


def test_equal_items_that_are_other_objects_are_rendered_again(renders: list[int]) -> None:
    built = package()
    copied = built.model_copy(update={"items": [item.model_copy() for item in built.items]})
    assert copied.to_messages() == built.to_messages()
    assert len(renders) == 2  # equal content, other objects: rendered, not looked up


def test_a_package_loaded_again_is_made_of_the_same_items(renders: list[int]) -> None:
    # `records._known_items`: a checkpoint load gets back the items it dumped.
    built = package()
    loaded = ContextPackage.model_validate_json(built.model_dump_json())
    assert all(a is b for a, b in zip(loaded.items, built.items, strict=True))
    assert loaded.to_messages() == built.to_messages()
    assert len(renders) == 1


def test_the_caches_are_bounded(renders: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering._NATIVE.entries, "size", 8)
    monkeypatch.setattr(candidates._TURN_ITEMS, "size", 8)
    for n in range(rendering._RENDERED.size + 5):
        package(f"request {n}")
    assert len(rendering._RENDERED) == rendering._RENDERED.size
    assert len(rendering._NATIVE) == 8
    assert len(candidates._TURN_ITEMS) == 8


def item(built: ContextPackage, item_id: str) -> Any:
    return next(i for i in built.items if i.id == item_id)


def test_a_turn_is_packed_from_one_item_while_it_stays(renders: list[int]) -> None:
    first, second = package("first request"), package("second request")
    assert item(first, "h0") is item(second, "h0")  # "hello", the turn before the request
    assert item(first, "h1") is not item(second, "h1")


def test_a_turn_that_differs_in_any_field_gets_its_own_item(renders: list[int]) -> None:
    def item_of(message: HumanMessage) -> Any:
        state = {"messages": [message, HumanMessage("now", id="h9")]}
        return item(build_package(state, identity=WHO, config=MemoryConfig()), "h0")

    base = item_of(HumanMessage("hello", id="h0"))
    assert item_of(HumanMessage("hello", id="h0")) is base
    for other in (
        HumanMessage("hello!", id="h0"),
        HumanMessage("hello", id="h0", name="ana"),
        HumanMessage("hello", id="h0", additional_kwargs={"created_at": "2024-03-01"}),
        HumanMessage([{"type": "text", "text": "hello"}], id="h0"),
    ):
        assert item_of(other) is not base
    dated = item_of(HumanMessage("hello", id="h0", additional_kwargs={"created_at": "2024-03-01"}))
    assert dated.metadata["date"] == "2024-03-01"


def test_a_large_turn_is_not_kept(renders: list[int]) -> None:
    big = "word " * 2000
    first, second = package(big), package(big)
    assert item(first, "h1") is not item(second, "h1")
    assert item(first, "h1") == item(second, "h1")


def test_a_turn_moving_back_is_built_and_rendered_once(
    renders: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    built_turns: list[str] = []
    build = candidates._build_turn_item

    def counted(message: Any, **kwargs: Any) -> Any:
        built_turns.append(message.id)
        return build(message, **kwargs)

    monkeypatch.setattr(candidates, "_build_turn_item", counted)
    thread = [HumanMessage("hello", id="h0")]
    packages = []
    for turn in range(1, 4):  # each turn the first message moves one place back
        thread.append(HumanMessage(f"request {turn}", id=f"h{turn}"))
        packages.append(build_package({"messages": thread}, identity=WHO, config=MemoryConfig()))
    first = [item(built, "h0") for built in packages]
    assert [i.rank for i in first] == [0, 1, 2]
    assert built_turns.count("h0") == 1  # then copied at each rank
    natives = [entry[1].id for entry in rendering._NATIVE.entries._data.values()]
    assert natives.count("h0") == 1  # one native message whatever its rank
    for built in packages:
        assert ContextPackage.model_validate_json(built.model_dump_json()).id == built.id
