"""Fixtures shared by the whole test suite.

- Every test runs with the network cut off: connecting a socket to anything
  but loopback or a unix socket raises `NetworkBlockedError`, and a test that
  swallowed that error fails anyway at teardown. Tests that want to check how
  code behaves offline can inspect (and then clear) `network_attempts`.
- `backend_url` runs a test once per backend: ``memory``, ``sqlite``,
  ``postgres`` and ``redis``. PostgreSQL is a real server: `postgres_url`
  creates a fresh database on it for the session. Redis is one too:
  `redis_url` gives each test a key prefix of its own and deletes its keys
  afterwards. Without a server those cases skip, except in CI (env ``CI``
  set), where they fail.
- `openai_server` is an OpenAI-compatible chat-completions server on loopback
  with scripted replies and recorded requests (`tests/openai_server.py`).
- `langgraph_server` is ``langgraph dev`` serving the repository's
  ``langgraph.json`` with the test API keys, one for the session
  (`tests/langgraph_server.py`).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from tests.langgraph_server import LangGraphServer
    from tests.openai_server import OpenAIServer

POSTGRES_URL_ENV = "MEMORYGRAPH_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL_ENV = "MEMORYGRAPH_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_CALL_FAILED = pytest.StashKey[bool]()


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host other than this machine.

    A RuntimeError rather than an OSError, so that client libraries do not
    mistake it for a flaky connection and retry or fall back quietly.
    """


def _is_local_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0].strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _is_local_address(family: int, address: object) -> bool:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True  # unix sockets, netlink, ...: not the network
    if isinstance(address, tuple) and address:
        return _is_local_host(address[0])
    return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what needs a server, and keep the ``langgraph dev`` tests on one xdist worker.

    A test that asks for ``postgres_url`` or ``redis_url`` itself gets the
    ``postgres`` or ``redis`` marker (``make test-fast`` deselects both). The
    tests that use the session's ``langgraph_server`` share one group, so that
    ``pytest -n 2 --dist loadgroup`` starts one server, not one per worker.
    """
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_url" in names:
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in names or "_redis_server" in names:
            item.add_marker(pytest.mark.redis)
        if "langgraph_server" in names:
            item.add_marker(pytest.mark.xdist_group("langgraph_server"))


@pytest.fixture(autouse=True)
def network_attempts(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[list[str]]:
    """Block connections to anything but loopback; yield the blocked attempts.

    Clear the list in a test that provokes a blocked call on purpose.
    """
    attempts: list[str] = []

    def refuse(address: object) -> NoReturn:
        attempts.append(repr(address))
        raise NetworkBlockedError(f"tests may not use the network: connect to {address!r}")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local_address(self.family, address):
            refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local_address(self.family, address):
            refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not (isinstance(address, tuple) and address and _is_local_host(address[0])):
            refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield attempts
    if attempts and not request.node.stash.get(_CALL_FAILED, False):
        pytest.fail(
            f"the test tried to use the network (and swallowed the error): {attempts}",
            pytrace=False,
        )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    netloc = f"{user}:***@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL database, dropped at the end of the session.

    The server comes from ``MEMORYGRAPH_TEST_POSTGRES_URL`` (default
    ``postgresql://postgres@127.0.0.1:5432/postgres``). Tests share the
    database, so each must use its own thread ids and namespaces (uuids).
    """
    base = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        _postgres_unavailable('psycopg is not installed: pip install -e ".[dev,postgres]"')
    name = f"memorygraph_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        _postgres_unavailable(
            f"PostgreSQL at {_redacted(base)} is not usable ({type(exc).__name__}: "
            f"{str(exc).strip()}); start a server or set {POSTGRES_URL_ENV}"
        )
    try:
        yield _with_database(base, name)
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _redis_unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: Redis tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _redis_server() -> str:
    base = os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    try:
        import redis
    except ImportError:
        _redis_unavailable('redis is not installed: pip install -e ".[dev,redis]"')
    try:
        with redis.Redis.from_url(base, socket_connect_timeout=5) as client:
            client.ping()
    except redis.RedisError as exc:
        _redis_unavailable(
            f"Redis at {_redacted(base)} is not usable ({type(exc).__name__}: {exc}); "
            f"start redis-server or set {REDIS_URL_ENV}"
        )
    return base


@pytest.fixture
def redis_url(_redis_server: str) -> Iterator[str]:
    """A Redis URL with a key prefix of the test's own; its keys are deleted afterwards.

    The server comes from ``MEMORYGRAPH_TEST_REDIS_URL`` (default
    ``redis://127.0.0.1:6379/9``: a database number of the tests' own).
    """
    import redis

    prefix = f"mgtest-{secrets.token_hex(6)}"
    joiner = "&" if "?" in _redis_server else "?"
    yield f"{_redis_server}{joiner}prefix={prefix}"
    with redis.Redis.from_url(_redis_server, socket_connect_timeout=5) as client:
        doomed = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(doomed), 500):
            client.delete(*doomed[start : start + 500])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to a SQLite file in the test's tmp_path (usable from other processes)."""
    return f"sqlite:///{tmp_path / 'memorygraph.db'}"


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of each backend in turn: ``memory``, a SQLite file, PostgreSQL, Redis."""
    kind: str = request.param
    if kind == "memory":
        return "memory"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/cp.db"
    url: str = request.getfixturevalue("redis_url" if kind == "redis" else "postgres_url")
    return url


@pytest.fixture(scope="session")
def _openai_server_running() -> Iterator[OpenAIServer]:
    # Imported here: starlette and uvicorn load only in sessions that use the server.
    from tests.openai_server import OpenAIServer, serve

    with serve(OpenAIServer()) as server:
        yield server


@pytest.fixture
def openai_server(_openai_server_running: OpenAIServer) -> OpenAIServer:
    """An OpenAI-compatible chat-completions server on loopback (`tests.openai_server`).

    Script replies with ``.reply(...)``, ``.respond(fn)`` and ``.fail(status)``;
    ``.requests`` holds every request body received; ``.base_url`` goes to
    ``ChatOpenAI(base_url=..., api_key="test")``. The script and the recorded
    requests are fresh for each test.
    """
    _openai_server_running.reset()
    return _openai_server_running


@pytest.fixture(scope="session")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LangGraphServer]:
    """``langgraph dev`` with the test API keys, one for the session (`tests.langgraph_server`)."""
    # Imported here: langgraph-sdk loads only in sessions that use the server.
    from tests.langgraph_server import serve

    with serve(tmp_path_factory.mktemp("langgraph-dev")) as server:
        yield server
