"""Redis URLs: passwords and TLS work, and no error or log line shows a password."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from langgraph.graph import MessagesState, StateGraph

from memorygraph.checkpointers import (
    aopen_checkpointer,
    aopen_store,
    list_threads,
    open_checkpointer,
    open_store,
)
from memorygraph.checkpointers.urls import redact_url
from memorygraph.errors import BackendError

pytestmark = pytest.mark.redis

SECRET = "hunter2-not-for-logs"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _assert_hidden(error: BaseException) -> None:
    seen: BaseException | None = error
    while seen is not None:
        assert SECRET not in str(seen) and SECRET not in repr(seen.args)
        seen = seen.__cause__ or seen.__context__


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A redis-server of the module's own: TLS only, with a password."""
    binary, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if binary is None or openssl is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server and openssl are needed (CI is set)", pytrace=False)
        pytest.skip("redis-server or openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
        + ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
        + ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
        + ["--requirepass", SECRET, "--save", "", "--appendonly", "no", "--dir", str(folder)]
        + ["--logfile", str(folder / "redis.log")]
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the TLS redis-server did not start"
                time.sleep(0.05)
        yield port, cert
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_rediss_with_a_password_runs_a_graph(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    url = f"rediss://:{SECRET}@127.0.0.1:{port}/0?ssl_ca_certs={cert}&prefix=tls"
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
    builder.set_entry_point("reply")
    cfg = {"configurable": {"thread_id": "t1"}}
    with open_checkpointer(url) as saver, open_store(url) as store:
        graph = builder.compile(checkpointer=saver)
        graph.invoke({"messages": [("user", "hi")]}, cfg)  # type: ignore[arg-type]
        assert len(graph.get_state(cfg).values["messages"]) == 2  # type: ignore[arg-type]
        assert list_threads(saver) == ["t1"]
        store.put(("notes",), "n1", {"text": "over TLS"})
        assert store.get(("notes",), "n1").value == {"text": "over TLS"}  # type: ignore[union-attr]


async def test_rediss_async(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    url = f"rediss://:{SECRET}@127.0.0.1:{port}/0?ssl_ca_certs={cert}&prefix=atls"
    async with aopen_checkpointer(url) as saver, aopen_store(url) as store:
        assert await saver.aget_tuple({"configurable": {"thread_id": "none"}}) is None
        await store.aput(("notes",), "n1", {"text": "hi"})
        assert (await store.aget(("notes",), "n1")).value == {"text": "hi"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "url",
    [
        "rediss://:wrong-password-{secret}@127.0.0.1:{port}/0?ssl_ca_certs={cert}",
        "redis://:{secret}@127.0.0.1:{port}/0",  # plain text to a TLS port
        "rediss://:{secret}@127.0.0.1:{port}/0",  # a certificate nobody trusts
    ],
)
def test_failures_name_the_server_but_not_the_password(
    tls_server: tuple[int, Path], url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port, cert = tls_server
    url = url.format(secret=SECRET, port=port, cert=cert)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    for opener in (open_checkpointer, open_store):
        with pytest.raises(BackendError) as caught, opener(url):
            pass  # pragma: no cover
        assert f"127.0.0.1:{port}" in str(caught.value)
        assert "check that the server is running" in str(caught.value)
        _assert_hidden(caught.value)
    assert time.monotonic() - started < 15
    assert SECRET not in caplog.text


async def test_an_unreachable_server_fails_fast_async() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{_free_port()}/0"
    for opener in (aopen_checkpointer, aopen_store):
        with pytest.raises(BackendError) as caught:
            async with opener(url):
                pass  # pragma: no cover
        _assert_hidden(caught.value)


def test_redact_url_hides_redis_passwords() -> None:
    assert redact_url(f"redis://:{SECRET}@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url(f"rediss://user:{SECRET}@h:6380/1?prefix=p") == (
        "rediss://user:***@h:6380/1?prefix=p"
    )


def test_a_blank_prefix_and_semantic_search_are_refused(redis_url: str) -> None:
    base = redis_url.partition("?")[0]
    with pytest.raises(BackendError, match="blank prefix"), open_checkpointer(f"{base}?prefix="):
        pass  # pragma: no cover
    index = {"dims": 3, "embed": lambda texts: [[0.0, 0.0, 1.0] for _ in texts]}
    with (
        pytest.raises(BackendError, match="no semantic search"),
        open_store(redis_url, index=index),
    ):  # type: ignore[arg-type]
        pass  # pragma: no cover


def test_prefixes_keep_two_apps_apart(redis_url: str) -> None:
    other = redis_url.replace("prefix=", "prefix=other-")
    with open_store(redis_url) as mine, open_store(other) as theirs:
        mine.put(("notes",), "n1", {"text": "mine"})
        assert theirs.get(("notes",), "n1") is None
        assert theirs.list_namespaces() == []
    with redis.Redis.from_url(redis_url.partition("?")[0]) as client:
        prefix = redis_url.split("prefix=")[1]
        assert client.exists(f"{prefix}:s:ns")
        client.delete(*client.keys(f"other-{prefix}:*") or ["nothing"])


def test_without_the_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    for opener in (open_checkpointer, open_store):
        with pytest.raises(BackendError, match=r'pip install "memorygraph\[redis\]"'):
            with opener("redis://127.0.0.1:6379/9"):
                pass  # pragma: no cover
