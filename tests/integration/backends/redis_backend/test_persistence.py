"""Forget on a Redis that keeps files: the AOF and the RDB snapshot are rewritten without it.

Each test starts a redis-server of its own in tmp_path (the machine's server
keeps nothing on disk), writes two users' turns through the memory graph,
forgets one user, and reads the bytes of every file the server wrote.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from memorygraph import create_memory_graph, forget_user
from memorygraph.admin import aforget_user
from memorygraph.checkpointers import aopen_checkpointer, aopen_store, open_checkpointer, open_store
from tests.fakes import RecordingChatModel
from tests.integration.backends.test_forget import CONFIG, atalk, marker, people, present, talk

pytestmark = pytest.mark.redis

# Every server writes uncompressed, so the test can search the files' bytes
# for the text: the snapshot is RDB, and so is the AOF's base after a rewrite
# (its RDB preamble). With LZF, a marker whose hex repeats three characters
# seen earlier in the value ("QUOKKA65b94994936c") is stored as a
# back-reference and not found.
MODES = {
    "aof": ["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
    "rdb": ["--appendonly", "no", "--save", "3600 1"],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(params=sorted(MODES))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (CI is set)", pytrace=False)
        pytest.skip("redis-server is not installed")
    port, data = _free_port(), tmp_path / "data"
    data.mkdir()
    args = [
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
        *("--rdbcompression", "no"),  # see MODES
    ]
    process = subprocess.Popen(
        [binary, *args, *MODES[request.param], "--logfile", str(tmp_path / "redis.log")]
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis.from_url(url) as client:
                    client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the test's redis-server did not start"
                time.sleep(0.05)
        yield url, data, request.param
    finally:
        process.terminate()
        process.wait(timeout=20)


def _files(data: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(data.rglob("*")) if path.is_file())


def test_forget_rewrites_the_files_a_redis_keeps(server: tuple[str, Path, str]) -> None:
    url, data, mode = server
    tenant = f"t{uuid.uuid4().hex[:8]}"
    gone, kept = marker(), marker()
    with ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer(url))
        store = stack.enter_context(open_store(url))
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
        )
        ana, bob = people(tenant)["ana"], people(tenant)["bob"]
        talk(graph, ana, "a1", gone)
        talk(graph, bob, "b1", kept)
        if mode == "rdb":
            checkpointer.conn.save()  # type: ignore[attr-defined]
        before = _files(data)
        assert present(before, gone) and present(before, kept)
        report = forget_user(checkpointer, store, tenant, "ana")
    expected = "AOF" if mode == "aof" else "RDB snapshot"
    assert report.vacuumed == [f"{url} ({expected} rewritten)"]
    deadline = time.monotonic() + 10
    while present(_files(data), gone):  # Redis deletes the old AOF in the background
        assert time.monotonic() < deadline, f"the forgotten text is still in the {mode} files"
        time.sleep(0.1)
    assert present(_files(data), kept)


def test_without_vacuum_the_old_files_still_hold_it(server: tuple[str, Path, str]) -> None:
    url, data, mode = server
    tenant, gone = f"t{uuid.uuid4().hex[:8]}", marker()
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
        )
        talk(graph, people(tenant)["ana"], "a1", gone)
        if mode == "rdb":
            checkpointer.conn.save()  # type: ignore[attr-defined]
        report = forget_user(checkpointer, store, tenant, "ana", vacuum=False)
    assert report.vacuumed == []
    assert present(_files(data), gone)  # what vacuum=True is for


async def test_async_forget_rewrites_them_too(server: tuple[str, Path, str]) -> None:
    url, data, mode = server
    tenant, gone, kept = f"t{uuid.uuid4().hex[:8]}", marker(), marker()
    async with aopen_checkpointer(url) as checkpointer, aopen_store(url) as store:
        assert getattr(checkpointer, "aconn", None) is not None  # the async rewrite path
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
        )
        await atalk(graph, people(tenant)["ana"], "a1", gone)
        await atalk(graph, people(tenant)["bob"], "b1", kept)
        if mode == "rdb":
            await checkpointer.aconn.save()  # type: ignore[attr-defined]
        assert present(_files(data), gone)
        report = await aforget_user(checkpointer, store, tenant, "ana")
    assert report.vacuumed == [f"{url} ({'AOF' if mode == 'aof' else 'RDB snapshot'} rewritten)"]
    deadline = time.monotonic() + 10
    while present(_files(data), gone):
        assert time.monotonic() < deadline, f"the forgotten text is still in the {mode} files"
        time.sleep(0.1)
    assert present(_files(data), kept)
