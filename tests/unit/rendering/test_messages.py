"""`render_messages` renders a package once while its items stay in memory."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from memorygraph import ContextPackage, MemoryConfig
from memorygraph.context import Identity
from memorygraph.packing import build_package
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


def test_a_package_loaded_again_is_rendered_from_its_own_items(renders: list[int]) -> None:
    built = package()
    loaded = ContextPackage.model_validate_json(built.model_dump_json())
    assert loaded.to_messages() == built.to_messages()
    assert len(renders) == 2  # equal content, other objects: rendered, not looked up


def test_the_cache_is_bounded(renders: list[int]) -> None:
    for n in range(rendering._RENDERED_SIZE + 5):
        package(f"request {n}")
    assert len(rendering._RENDERED) == rendering._RENDERED_SIZE
