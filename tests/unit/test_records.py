"""Records: enums, package ids, summary invariants."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from memorygraph import ContextItem, ContextPackage, Priority, SessionSummary, TrustLevel, records
from memorygraph.records import RENDER_ORDER, ExcludedItem, ItemKind, ranked


def test_priority_and_trust_values() -> None:
    assert [p.value for p in Priority] == [100, 80, 50, 20]
    assert {t.value for t in TrustLevel} == {
        "user_claimed",
        "system_verified",
        "model_inferred",
        "tool_observed",
    }


def test_render_order_is_the_documented_order() -> None:
    order = sorted(RENDER_ORDER, key=RENDER_ORDER.__getitem__)
    assert [k.value for k in order] == [
        "policy",
        "authority",
        "task_state",
        "request",
        "clarification",
        "fact",
        "summary",
        "recalled",
        "tool_result",
        "recent_turn",
        "output_contract",
    ]


def item(item_id: str) -> ContextItem:
    return ContextItem(
        id=item_id, kind=ItemKind.FACT, content="c", priority=Priority.LOW, tokens=1, source="s"
    )


def test_package_id_is_the_sha256_of_its_content() -> None:
    a = ContextPackage(items=[item("x")], total_tokens=1, budget=10, prompt_version="v")
    b = ContextPackage(items=[item("x")], total_tokens=1, budget=10, prompt_version="v")
    c = ContextPackage(items=[item("y")], total_tokens=1, budget=10, prompt_version="v")
    assert a.id == b.id != c.id
    assert ContextPackage.model_validate_json(a.to_json()) == a
    # The sha256 (not another 64-hex-digit hash) of the canonical JSON without the id.
    assert a.id == plain_hash(a)
    assert a.id == "292ab494474a80f38d4d3e5ae648e1d6446bb35eb27ec7f1e61b5f577969718b"


def canonical(value: object) -> str:
    """The canonical JSON the package id hashes, written with the standard library."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def plain_hash(package: ContextPackage) -> str:
    body = package.model_dump(mode="json", exclude={"id"})
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def test_a_package_made_of_items_seen_before_has_the_same_id() -> None:
    # Each item's JSON is kept while the item is (records._item_json): a package
    # of items already hashed must hash exactly as the whole dump does.
    shared = ContextItem(
        id="é-1",
        kind=ItemKind.RECENT_TURN,
        content='Zoë said "hi"\n\u2028 and left',
        priority=Priority.MEDIUM,
        tokens=9,
        source="turn:é-1",
        trust_level=TrustLevel.USER_CLAIMED,
        metadata={"z": 1, "a": {"y": [1.5, None, True], "b": "ü"}},
        message={"type": "human", "data": {"content": "Zoë", "id": "é-1"}},
    )
    left_out = ExcludedItem(item=item("dropped"), reason="over_budget", detail="d")
    first = ContextPackage(
        items=[item("x"), shared],
        excluded=[left_out],
        total_tokens=10,
        budget=99,
        prompt_version="v",
        thread_id="t",
        tenant_id="ténant",
        user_id="u",
    )
    second = ContextPackage(
        items=[shared, item("x")], total_tokens=10, budget=99, prompt_version="v"
    )
    for package in (first, second, first.model_copy()):
        assert package.id == plain_hash(package)
    loaded = ContextPackage.model_validate_json(first.model_dump_json())
    assert loaded.id == first.id and loaded.items[1] is shared  # the item it dumped


@pytest.mark.parametrize(
    "field, value", [("content", "tampered"), ("tokens", 2), ("metadata", {"z": 2})]
)
def test_a_known_item_tampered_in_any_field_is_refused(field: str, value: object) -> None:
    # Items dumped by this process are reused on load only when the dump is the same.
    known = item("k")
    good = ContextPackage(items=[known], total_tokens=1, budget=10, prompt_version="v")
    data = good.model_dump()
    assert ContextPackage.model_validate(data).items[0] is known
    data["items"][0][field] = value
    with pytest.raises(ValidationError, match="does not match its content"):
        ContextPackage.model_validate(data)


def test_package_with_a_forged_id_is_refused() -> None:
    good = ContextPackage(items=[item("x")], total_tokens=1, budget=10, prompt_version="v")
    data = good.model_dump()
    data["items"][0]["content"] = "tampered"
    with pytest.raises(ValidationError, match="does not match its content"):
        ContextPackage.model_validate(data)


def test_summary_cannot_confirm_what_was_rejected() -> None:
    with pytest.raises(ValidationError, match="rejected assumptions"):
        SessionSummary(
            confirmed_decisions=["Intent to violate"], rejected_assumptions=["intent to violate"]
        )


def test_records_are_frozen() -> None:
    with pytest.raises(ValidationError):
        item("x").content = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("bad_id", [["x"], {"x": 1}, 3, None])
def test_an_item_dump_of_the_wrong_shape_is_a_validation_error(bad_id: object) -> None:
    good = ContextPackage(items=[item("k")], total_tokens=1, budget=10, prompt_version="v")
    data = good.model_dump()
    data["items"][0]["id"] = bad_id
    with pytest.raises(ValidationError):
        ContextPackage.model_validate(data)


@pytest.mark.parametrize(
    "metadata",
    [{}, {"rank": 5}, {"rank": records._RANK_MARK}, {"note": f'"rank":{records._RANK_MARK}'}],
)
def test_an_item_at_another_rank_dumps_and_encodes_as_if_built_there(
    metadata: dict[str, object],
) -> None:
    base = ContextItem.model_validate({**item("m1").model_dump(), "metadata": metadata})
    assert ranked(base, 0) is base
    for rank in (1, 7, 12345, 0):
        moved = ranked(ranked(base, 3), rank)
        built_there = base.model_copy(update={"rank": rank})
        assert moved == built_there and moved.rank == rank
        assert records._item_json(moved) == canonical(built_there.model_dump(mode="json"))
        dump = records._item_dump(moved)
        assert dump == built_there.model_dump() and list(dump) == list(built_there.model_dump())
