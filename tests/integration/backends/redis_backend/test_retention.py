"""Retention on Redis: facts and audit records expire through Redis's own key expiry."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from memorygraph.admin import sweep_expired
from memorygraph.checkpointers.backends.redis_store import RedisStore
from tests.unit.test_retention import TTL, counts, remember

pytestmark = pytest.mark.redis


def test_facts_and_audit_expire_through_redis_expiry(redis_url: str) -> None:
    with ExitStack() as stack:
        store, context = remember(stack, redis_url)
        assert isinstance(store, RedisStore) and store.supports_ttl
        client, prefix = store.conn, f"{store.prefix}:s:i:memorygraph.{context.tenant_id}."
        ttls: dict[str, set[int]] = {}
        for key in client.scan_iter(match=f"{prefix}*"):
            kind = key.decode()[len(prefix) :].split(":")[0].rsplit(".", 1)[-1]
            ttls.setdefault(kind, set()).add(round(client.pttl(key) / 60_000 / 60))
        # in hours: 30 days for facts, 7 for audit records, none for the rest (archive, ...)
        assert ttls.pop("facts") == {30 * 24} and ttls.pop("audit") == {7 * 24}
        assert ttls.pop("restricted_audit") == {7 * 24}
        assert ttls and all(hours == {0} for hours in ttls.values())
        assert all(counts(store, context))
        expiring = [k for k in client.scan_iter(match=f"{prefix}*") if client.pttl(k) > 0]
        for key in expiring:  # as if thirty days went by
            client.pexpire(key, 1)
        expiry = f"{store.prefix}:s:exp"
        client.zadd(expiry, dict.fromkeys(client.zrange(expiry, 0, -1), 1))
        time.sleep(0.01)
        assert sweep_expired(store, TTL, tenant_id=context.tenant_id) == 0  # Redis did it
        assert counts(store, context) == (0, 0, 0)
        assert store.sweep_ttl() == 0  # the sweep above already cleaned the indexes
        namespaces = store.list_namespaces(prefix=("memorygraph", context.tenant_id))
        assert all(ns[-1] not in ("facts", "audit", "restricted_audit") for ns in namespaces)
