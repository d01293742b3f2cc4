"""MemoryConfig and MemoryContext validate once, with errors that say what to fix."""

from __future__ import annotations

import pytest

from memorygraph import MemoryConfig, MemoryContext
from memorygraph.context import resolve_identity
from memorygraph.errors import ConfigError, IdentityError


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"token_budget": 0}, "token_budget must be positive"),
        ({"token_budget": -5}, "token_budget must be positive"),
        ({"output_reserve": -1}, "output_reserve must be >= 0"),
        ({"token_budget": 100, "output_reserve": 100}, "must be smaller than"),
        ({"shares": {"gossip": 0.1}}, "unknown kinds in shares"),
        ({"shares": {"fact": 0.9, "summary": 0.9}}, "more than 1"),
        ({"shares": {"fact": -0.1}}, "shares must be >= 0"),
        ({"token_budget": "lots"}, "valid integer"),
        ({"max_recent_turns": 0}, "at least 1"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_config_raises_config_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MemoryConfig(**kwargs)


def test_config_defaults_and_shares() -> None:
    config = MemoryConfig(token_budget=1000, output_reserve=100)
    assert config.available_tokens == 900
    assert config.share_budget("recent_turn") == 270
    assert config.share_budget("policy") == 0


@pytest.mark.parametrize("blank", ["", "   ", "a\nb", "x" * 300])
def test_context_refuses_blank_or_unsafe_ids(blank: str) -> None:
    with pytest.raises(IdentityError):
        MemoryContext(tenant_id=blank, user_id="ana")
    with pytest.raises(IdentityError):
        MemoryContext(tenant_id="acme", user_id=blank)


def test_resolve_identity_prefers_context_and_falls_back_to_configurable() -> None:
    cfg = {"configurable": {"thread_id": "t1", "tenant_id": "cfg-t", "user_id": "cfg-u"}}
    assert resolve_identity(MemoryContext(tenant_id="acme", user_id="ana"), cfg).tenant_id == "acme"
    assert resolve_identity(None, cfg).user_id == "cfg-u"
    assert resolve_identity(
        {"tenant_id": "d", "user_id": "u", "scopes": ["b", "a"]}, cfg
    ).scopes == ("a", "b")


@pytest.mark.parametrize(
    ("context", "cfg", "match"),
    [
        (None, {"configurable": {"tenant_id": "a", "user_id": "u"}}, "thread_id is missing"),
        (None, {}, "thread_id is missing"),
        (None, {"configurable": {"thread_id": ""}}, "tenant_id is missing"),
        (
            MemoryContext(tenant_id="a", user_id="u"),
            {"configurable": {"thread_id": " "}},
            "thread_id",
        ),
        (
            MemoryContext(tenant_id="a", user_id="u"),
            {"configurable": {"thread_id": ""}},
            "thread_id",
        ),
        (None, {"configurable": {"thread_id": "t", "tenant_id": "a"}}, "user_id"),
    ],
)
def test_resolve_identity_refuses_missing_ids(
    context: object, cfg: dict[str, object], match: str
) -> None:
    with pytest.raises(IdentityError, match=match):
        resolve_identity(context, cfg)


def test_scope_hash_is_stable_and_depends_on_scopes() -> None:
    cfg = {"configurable": {"thread_id": "t"}}
    a = resolve_identity(MemoryContext(tenant_id="acme", user_id="ana", scopes=("x", "y")), cfg)
    b = resolve_identity(MemoryContext(tenant_id="acme", user_id="ana", scopes=("y", "x")), cfg)
    c = resolve_identity(MemoryContext(tenant_id="acme", user_id="ana"), cfg)
    assert a.scope_hash == b.scope_hash != c.scope_hash
