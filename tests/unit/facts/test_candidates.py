"""The memory boundary: which changed facts are proposed, and who must agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memorygraph import MemoryConfig
from memorygraph.facts.candidates import propose, sensitivity_floor
from memorygraph.records import Fact, TrustLevel

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def fact(fact_id: str, **fields: object) -> Fact:
    values: dict[str, object] = {"key": "likes", "value": "jazz", "scope": "user"}
    values.update(fields)
    return Fact(id=fact_id, **values)  # type: ignore[arg-type]


def test_only_fresh_active_unexpired_user_facts_not_yet_durable_are_proposed() -> None:
    facts = [
        fact("fresh"),
        fact("old"),
        fact("durable"),
        fact("thread", scope="thread"),
        fact("retired", status="superseded"),
        fact("expired", expires_at=NOW - timedelta(days=1)),
        fact("inferred", trust_level=TrustLevel.MODEL_INFERRED),
    ]
    fresh = {f.id for f in facts} - {"old"}
    proposed = propose(facts, fresh=fresh, durable={"durable"}, config=MemoryConfig(), now=NOW)
    assert [c.fact.id for c in proposed] == ["fresh", "inferred"]
    assert [c.reason for c in proposed] == [None, "inferred by the model, not stated by the user"]


def test_sensitivity_is_raised_from_key_and_words() -> None:
    assert sensitivity_floor("family:wife", "Ana") == "personal"
    assert sensitivity_floor("note", "recovering from surgery") == "sensitive"
    assert sensitivity_floor("likes", "jazz") == "none"
