"""Who may call the API server, and what each caller reaches (``memorygraph.graph.auth``).

The server tests drive the session's ``langgraph dev`` (`tests/langgraph_server.py`)
with two API keys: Ana of tenant acme owns a thread and its memory; Bob of tenant
globex tries to reach them. The rest checks the identity rules without a server.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from langgraph_sdk.client import SyncLangGraphClient

from memorygraph import ContextPackage, MemoryContext
from memorygraph.context import AUTH_USER_KEY, resolve_identity
from memorygraph.errors import ConfigError, IdentityError
from memorygraph.graph.auth import key_digest, load_api_keys, user_for
from tests.langgraph_server import (
    AUDITOR_KEY,
    OTHER_KEY,
    OWNER_KEY,
    LangGraphServer,
    start,
    stop,
)

ANA = {"tenant_id": "acme", "user_id": "ana"}
ANAS = ("memorygraph", "acme", "ana")
LISBON = "Hi, I'm Ana and I live in Lisbon."


def status_of(call: Callable[..., object], *args: Any, **kwargs: Any) -> int:
    """The HTTP status a call ends with: 200 when it returns, else the error's."""
    try:
        call(*args, **kwargs)
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture(scope="module")
def owner(langgraph_server: LangGraphServer) -> Iterator[SyncLangGraphClient]:
    with langgraph_server.client(OWNER_KEY) as client:
        yield client


@pytest.fixture(scope="module")
def other(langgraph_server: LangGraphServer) -> Iterator[SyncLangGraphClient]:
    with langgraph_server.client(OTHER_KEY) as client:
        yield client


@pytest.fixture(scope="module")
def owners_thread(owner: SyncLangGraphClient) -> str:
    """A thread of Ana's where she said where she lives (no identity claimed: the key says)."""
    thread_id: str = owner.threads.create()["thread_id"]
    owner.runs.wait(thread_id, "memorygraph", input=say(LISBON))
    return thread_id


# The server ------------------------------------------------------------------


@pytest.mark.slow
def test_a_request_without_a_valid_key_gets_401(langgraph_server: LangGraphServer) -> None:
    for key in (None, "not-a-key", OWNER_KEY.upper()):
        with langgraph_server.client(key) as client:
            assert status_of(client.threads.search) == 401, key
            assert status_of(client.store.list_namespaces) == 401, key
            assert status_of(client.assistants.search) == 401, key
    # Studio's sign-in header does not stand in for a key (disable_studio_auth).
    request = urllib.request.Request(
        f"{langgraph_server.url}/threads/search",
        data=b"{}",
        headers={"x-auth-scheme": "langsmith", "content-type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()  # the error holds the response open
    assert refused.value.code == 401


@pytest.mark.slow
def test_the_owners_fact_reaches_the_owners_new_thread(
    owner: SyncLangGraphClient, owners_thread: str
) -> None:
    assert owner.threads.get(owners_thread)["metadata"]["owner_tenant_id"] == "acme"
    thread = owner.threads.create()
    assert thread["metadata"] == {"owner_tenant_id": "acme", "owner_user_id": "ana"}
    values = owner.runs.wait(thread["thread_id"], "memorygraph", input=say("Where do I live?"))
    assert isinstance(values, dict)
    assert "Lisbon" in values["messages"][-1]["content"]
    package = ContextPackage.model_validate(values["context_package"])
    assert (package.tenant_id, package.user_id) == ("acme", "ana")
    facts = owner.store.search_items([*ANAS, "facts"], limit=50)["items"]
    assert any(item["value"].get("value") == "Lisbon" for item in facts)
    assert thread["thread_id"] in {t["thread_id"] for t in owner.threads.search(limit=100)}


@pytest.mark.slow
def test_another_tenant_cannot_reach_the_owners_thread(
    other: SyncLangGraphClient, owner: SyncLangGraphClient, owners_thread: str
) -> None:
    assert status_of(other.threads.get_state, owners_thread) == 404
    assert status_of(other.threads.get, owners_thread) == 404
    assert status_of(other.threads.get_history, owners_thread) == 404
    found = {t["thread_id"] for t in other.threads.search(limit=100)}
    assert owners_thread not in found
    assert other.threads.search(metadata={"owner_tenant_id": "acme"}) == []
    ran = status_of(other.runs.wait, owners_thread, "memorygraph", input=say("Where do I live?"))
    assert ran == 404
    assert status_of(other.runs.list, owners_thread) == 404
    assert status_of(other.threads.update_state, owners_thread, {"messages": []}) == 404
    run_id = owner.runs.list(owners_thread)[0]["run_id"]
    assert status_of(other.runs.get, owners_thread, run_id) == 404
    assert status_of(other.runs.join, owners_thread, run_id) == 404
    assert status_of(other.threads.update, owners_thread, metadata={"x": 1}) == 404
    assert status_of(other.threads.delete, owners_thread) == 404
    taken = status_of(other.threads.create, thread_id=owners_thread, if_exists="do_nothing")
    assert taken == 409
    # The thread is as Ana left it: one turn, nothing from Bob.
    messages = owner.threads.get_state(owners_thread)["values"]["messages"]
    assert [m["content"] for m in messages if m["type"] == "human"] == [LISBON]


@pytest.mark.slow
def test_another_tenant_cannot_read_the_owners_memory_through_the_store(
    other: SyncLangGraphClient, owners_thread: str
) -> None:
    for namespace in ([*ANAS, "facts"], [*ANAS, "threads"], [*ANAS, "audit"], ["memorygraph"]):
        assert status_of(other.store.search_items, namespace) == 403, namespace
    assert status_of(other.store.get_item, [*ANAS, "facts"], key="lives_in") == 403
    listed = other.store.list_namespaces(prefix=["memorygraph"])["namespaces"]
    listed += other.store.list_namespaces()["namespaces"]
    assert not [ns for ns in listed if "acme" in ns]
    assert status_of(other.store.list_namespaces, prefix=["memorygraph", "acme"]) == 403


@pytest.mark.slow
def test_claiming_the_owners_identity_gets_nothing(
    other: SyncLangGraphClient, owners_thread: str
) -> None:
    for who in ({"context": ANA}, {"config": {"configurable": ANA}}):
        thread_id = other.threads.create()["thread_id"]
        run = other.runs.create(thread_id, "memorygraph", input=say("Where do I live?"), **who)
        error = other.runs.join(thread_id, run["run_id"])["__error__"]
        assert error["error"] == "IdentityError", who
        assert "contradicts the authenticated caller" in error["message"]
        assert other.threads.get_state(thread_id)["values"] == {}
    # Bob's own memory holds nothing of Ana's either.
    namespaces = other.store.list_namespaces(prefix=["memorygraph"])["namespaces"]
    items = [
        item
        for namespace in namespaces
        for item in other.store.search_items(namespace, limit=100)["items"]
    ]
    assert "Lisbon" not in json.dumps(items)


@pytest.mark.slow
def test_the_store_api_is_read_only_and_keeps_the_restricted_audit(
    owner: SyncLangGraphClient, langgraph_server: LangGraphServer, owners_thread: str
) -> None:
    listed = owner.store.list_namespaces(prefix=["memorygraph"])["namespaces"]
    assert listed and all(tuple(ns[:3]) == ANAS for ns in listed)
    assert status_of(owner.store.put_item, [*ANAS, "facts"], "forged", {"value": "Paris"}) == 403
    assert status_of(owner.store.delete_item, [*ANAS, "audit"], "any") == 403
    restricted = [*ANAS, "restricted_audit"]
    assert status_of(owner.store.search_items, restricted) == 403
    assert status_of(owner.store.get_item, restricted, key="any") == 403
    assert status_of(owner.store.search_items, list(ANAS)) == 403
    with langgraph_server.client(AUDITOR_KEY) as auditor:
        assert auditor.store.search_items(restricted)["items"] == []
        assert auditor.store.search_items(["memorygraph"], limit=100)["items"]


@pytest.mark.slow
def test_owner_metadata_cannot_be_claimed(
    other: SyncLangGraphClient, owner: SyncLangGraphClient
) -> None:
    claimed = {"owner_tenant_id": "acme", "owner_user_id": "ana"}
    thread = other.threads.create(metadata=claimed)
    assert thread["metadata"] == {"owner_tenant_id": "globex", "owner_user_id": "bob"}
    updated = other.threads.update(thread["thread_id"], metadata=claimed)
    assert updated["metadata"]["owner_tenant_id"] == "globex"
    assert thread["thread_id"] not in {t["thread_id"] for t in owner.threads.search(limit=100)}
    # An assistant Bob creates is Bob's; the graph's own is everyone's.
    mine = other.assistants.create("memorygraph", name=f"bob-{uuid.uuid4().hex[:6]}")
    assert mine["assistant_id"] in {a["assistant_id"] for a in other.assistants.search()}
    assert mine["assistant_id"] not in {a["assistant_id"] for a in owner.assistants.search()}
    assert status_of(owner.assistants.delete, mine["assistant_id"]) == 404
    assert owner.assistants.search(graph_id="memorygraph")


@pytest.mark.slow
def test_crons_are_their_owners(
    other: SyncLangGraphClient, owner: SyncLangGraphClient, owners_thread: str
) -> None:
    onto_anas = status_of(
        other.crons.create_for_thread, owners_thread, "memorygraph", schedule="0 0 1 1 *"
    )
    assert onto_anas == 404
    cron = owner.crons.create_for_thread(owners_thread, "memorygraph", schedule="0 0 1 1 *")
    try:
        # Its scheduled runs start as Ana: the scheduler takes the user from the payload.
        user = cron["payload"]["config"]["configurable"][AUTH_USER_KEY]
        assert (user["tenant_id"], user["user_id"]) == ("acme", "ana")
        assert cron["cron_id"] in {c["cron_id"] for c in owner.crons.search()}
        assert cron["cron_id"] not in {c["cron_id"] for c in other.crons.search()}
        assert status_of(other.crons.delete, cron["cron_id"]) == 404
    finally:
        owner.crons.delete(cron["cron_id"])


@pytest.mark.slow
def test_the_server_refuses_to_start_without_keys(tmp_path: Path) -> None:
    process = start(tmp_path, None)
    try:
        assert process.wait(timeout=90) != 0
    except subprocess.TimeoutExpired:
        pytest.fail("langgraph dev started without MEMORYGRAPH_API_KEYS")
    finally:
        stop(process)
    assert "ConfigError: MEMORYGRAPH_API_KEYS is not set" in (tmp_path / "server.log").read_text()


# The identity rules, without a server ----------------------------------------


class ServerUser:
    """A user as the server hands it to a run: attributes, not a dict (its proxy type)."""

    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def server_config(user: object, **configurable: object) -> dict[str, Any]:
    return {"configurable": {"thread_id": "t1", AUTH_USER_KEY: user, **configurable}}


ANA_USER = user_for(MemoryContext("acme", "ana", ("billing",)))


@pytest.mark.parametrize("user", [ANA_USER, ServerUser(**ANA_USER)], ids=["dict", "object"])
def test_identity_comes_from_the_authenticated_user(user: object) -> None:
    for context in (None, {}, {"tenant_id": "acme"}, {**ANA, "scopes": ["billing"]}):
        identity = resolve_identity(context, server_config(user))
        assert (identity.tenant_id, identity.user_id, identity.scopes) == (
            "acme",
            "ana",
            ("billing",),
        )
    # The server copies the user's identity into configurable["user_id"]: not a claim.
    assert resolve_identity(None, server_config(user, user_id="acme/ana")).user_id == "ana"
    assert resolve_identity(MemoryContext("acme", "ana", ("billing",)), server_config(user))


@pytest.mark.parametrize(
    ("context", "configurable", "message"),
    [
        ({"tenant_id": "globex"}, {}, "tenant_id 'globex' in the run's context contradicts"),
        ({"user_id": "bob"}, {}, "user_id 'bob' in the run's context contradicts"),
        ({**ANA, "scopes": ["admin"]}, {}, "scopes ['admin'] in the run's context contradicts"),
        (MemoryContext("globex", "ana"), {}, "tenant_id 'globex' in the run's context"),
        (None, {"tenant_id": "globex"}, "tenant_id 'globex' in the run's configurable"),
        (None, {"scopes": ["billing", "admin"]}, "scopes ['billing', 'admin'] in the run's"),
    ],
)
def test_a_claim_that_contradicts_the_authenticated_user_is_refused(
    context: object, configurable: dict[str, object], message: str
) -> None:
    with pytest.raises(IdentityError, match=message.replace("[", r"\[")):
        resolve_identity(context, server_config(ANA_USER, **configurable))


def test_a_user_without_tenant_and_user_is_refused_not_filled_from_a_claim() -> None:
    config = server_config({"identity": "someone"})
    with pytest.raises(IdentityError, match="tenant_id is missing: the authenticated user"):
        resolve_identity(ANA, config)


def test_without_an_authenticated_user_the_claim_decides() -> None:
    """Plain Python: the context, else configurable, as before."""
    identity = resolve_identity(ANA, {"configurable": {"thread_id": "t1"}})
    assert (identity.tenant_id, identity.user_id) == ("acme", "ana")
    config = {"configurable": {"thread_id": "t1", AUTH_USER_KEY: None, **ANA}}
    assert resolve_identity(None, config).user_id == "ana"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not set"),
        ("{", "is not valid JSON"),
        ("[]", "must be a non-empty JSON object"),
        ("{}", "must be a non-empty JSON object"),
        ('{" ": {"tenant_id": "a", "user_id": "b"}}', "entry 1: an API key must not be blank"),
        ('{"k": "acme"}', "entry 1: must map to an object"),
        ('{"k": {"tenant_id": "acme"}}', "entry 1: user_id is missing"),
        ('{"k": {"tenant_id": "acme", "user_id": " "}}', "entry 1: user_id must be a non-blank"),
        ('{"k": {"tenant_id": "a", "user_id": "b", "scopes": "x"}}', "scopes must be a list"),
        ('{"k": {"tenant_id": "a.b", "user_id": "c"}}', "entry 1: tenant_id must be .* without"),
    ],
)
def test_malformed_api_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        load_api_keys(text)
    assert '"k"' not in str(refused.value)  # a key is never echoed


def test_api_keys_map_to_their_callers() -> None:
    callers = load_api_keys(json.dumps({"k1": {**ANA, "scopes": ["b", "a"]}, "k2": ANA}))
    assert callers[key_digest("k1")] == MemoryContext("acme", "ana", ("a", "b"))
    assert callers[key_digest(b"k2")] == MemoryContext("acme", "ana")
    assert key_digest("k3") not in callers


# The identity provider example in docs/server-auth.md --------------------------


def test_the_jwt_example_in_the_docs_authenticates_with_its_rules() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from langgraph_sdk import Auth

    text = (Path(__file__).resolve().parents[3] / "docs" / "server-auth.md").read_text()
    namespace: dict[str, Any] = {}
    exec(compile(text.split("```python\n")[1].split("```")[0], "server-auth.md", "exec"), namespace)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    class KeySet:  # the JWKS the example would fetch from the identity provider
        def get_signing_key_from_jwt(self, token: str) -> Any:
            return type("SigningKey", (), {"key": private.public_key()})

    namespace["jwks"] = KeySet()
    authenticate = namespace["authenticate"]

    def token(**claims: object) -> str:
        base = {"iss": namespace["ISSUER"], "aud": namespace["AUDIENCE"], "org_id": "acme"}
        return "Bearer " + jwt.encode({**base, **claims}, private, algorithm="RS256")

    user = authenticate(token(sub="ana", scope="billing reports"))
    assert resolve_identity(None, server_config(user)).scopes == ("billing", "reports")
    assert (user["tenant_id"], user["user_id"]) == ("acme", "ana")
    for refused in (None, "ana", token(sub="ana", aud="elsewhere"), token(org_id=None, sub="a")):
        with pytest.raises(Auth.exceptions.HTTPException) as raised:
            authenticate(refused)
        assert raised.value.status_code == 401
    assert isinstance(namespace["auth"], Auth)
