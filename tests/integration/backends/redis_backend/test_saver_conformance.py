"""The Redis saver against LangGraph's checkpointer conformance suite, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate

from memorygraph.checkpointers import aopen_checkpointer, open_checkpointer

pytestmark = pytest.mark.redis


def _failures(report: object) -> list[str]:
    results = getattr(report, "results", {})
    return [failure for result in results.values() for failure in result.failures]


async def test_async_saver_passes_the_conformance_suite(redis_url: str) -> None:
    @checkpointer_test(name="RedisSaver (async client)")
    async def saver() -> AsyncIterator[BaseCheckpointSaver[str]]:
        async with aopen_checkpointer(redis_url) as opened:
            assert getattr(opened, "aconn", None) is not None
            yield opened

    report = await validate(saver)
    assert report.passed_all(), _failures(report)  # base and every extended capability
    assert all(result.detected for result in report.results.values())
    assert report.results["prune"].tests_passed == 8


async def test_sync_saver_passes_the_conformance_suite(redis_url: str) -> None:
    # Without an async client every async method runs the sync one in a thread,
    # so the suite exercises the sync code path.
    @checkpointer_test(name="RedisSaver (sync client)")
    async def saver() -> AsyncIterator[BaseCheckpointSaver[str]]:
        with open_checkpointer(redis_url) as opened:
            assert getattr(opened, "aconn", "missing") is None
            yield opened

    report = await validate(saver)
    assert report.passed_all(), _failures(report)
    assert all(result.detected for result in report.results.values())
