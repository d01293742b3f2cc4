"""``langgraph dev`` serving the repository's ``langgraph.json``, for tests driving it with the SDK.

The server runs offline as a separate process on a free port, in a temporary
folder (it writes ``.langgraph_api/`` into its working directory), from the
repository's own ``langgraph.json`` with its paths made absolute, and with the
API keys in `API_KEYS` (``MEMORYGRAPH_API_KEYS``). The ``langgraph_server``
fixture in ``tests/conftest.py`` starts one for the whole session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "langgraph.json"
LANGGRAPH = Path(sys.executable).with_name("langgraph")
START_TIMEOUT = 90.0

OWNER_KEY = "test-key-acme-ana"
"""Ana of tenant acme: the owner in the tests."""
OTHER_KEY = "test-key-globex-bob"
"""Bob of tenant globex: another tenant's caller."""
AUDITOR_KEY = "test-key-acme-ana-auditor"
"""Ana again, also holding the restricted audit scope."""
AGENT_KEY = "test-key-acme-agent"
"""A user of acme of its own, for the create_agent graph's test (the store is shared)."""
INITECH_KEY = "test-key-initech-eve"
"""Eve of tenant initech: a fresh owner for the thread-ownership test."""
API_KEYS = {
    OWNER_KEY: {"tenant_id": "acme", "user_id": "ana", "scopes": []},
    AGENT_KEY: {"tenant_id": "acme", "user_id": "agent-user", "scopes": []},
    INITECH_KEY: {"tenant_id": "initech", "user_id": "eve", "scopes": []},
    OTHER_KEY: {"tenant_id": "globex", "user_id": "bob", "scopes": []},
    AUDITOR_KEY: {
        "tenant_id": "acme",
        "user_id": "ana",
        "scopes": ["memorygraph:restricted_audit"],
    },
}


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message holds its log."""


@dataclass(frozen=True)
class LangGraphServer:
    """A running server: its URL and its log file (complete: the server is unbuffered)."""

    url: str
    log: Path

    @contextmanager
    def client(self, api_key: str | None) -> Iterator[SyncLangGraphClient]:
        """A langgraph-sdk client sending ``api_key`` as ``x-api-key`` (None: no key at all)."""
        with get_sync_client(url=self.url, api_key=api_key, timeout=60.0) as opened:
            yield opened


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def absolute_config(folder: Path) -> Path:
    """The repository's langgraph.json, with ``./`` paths anchored at the repository."""
    text = CONFIG.read_text().replace('"./', f'"{ROOT.as_posix()}/')
    path = folder / "langgraph.json"
    path.write_text(text)
    return path


def _wait_until_ok(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(
                f"langgraph dev exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            # /ok is the one route that answers without an API key.
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise ServerFailed(
        f"langgraph dev did not answer /ok in {START_TIMEOUT:.0f}s:\n{log.read_text()}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started: it leads its own process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def server_environment(api_keys: dict[str, dict[str, object]] | None) -> dict[str, str]:
    """This process's environment without model or tracing keys, with the given API keys."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OPENAI_API_KEY", "MEMORYGRAPH_MODEL", "MEMORYGRAPH_API_KEYS")
        and not key.startswith(("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_API_KEY"))
    }
    # Unbuffered, so the log is complete when a test reads it.
    environment.update(
        {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    )
    if api_keys is not None:
        environment["MEMORYGRAPH_API_KEYS"] = json.dumps(api_keys)
    return environment


def start(folder: Path, api_keys: dict[str, dict[str, object]] | None) -> subprocess.Popen[bytes]:
    """Start ``langgraph dev`` in ``folder``, its log in ``server.log``, its port in ``port``."""
    port = free_port()
    (folder / "port").write_text(str(port))
    command = [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--port", str(port)]
    command += ["--config", str(absolute_config(folder))]
    with (folder / "server.log").open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=folder,
            env=server_environment(api_keys),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def serve(folder: Path) -> Iterator[LangGraphServer]:
    """Run a server with `API_KEYS` until the block ends."""
    process = start(folder, API_KEYS)
    port = int((folder / "port").read_text())
    url, log = f"http://127.0.0.1:{port}", folder / "server.log"
    try:
        _wait_until_ok(url, process, log)
        # The server moves to another port, with only a warning, when ours is taken.
        if f"127.0.0.1:{port}" not in log.read_text():
            raise ServerFailed(f"langgraph dev is not on port {port}:\n{log.read_text()}")
        yield LangGraphServer(url=url, log=log)
    finally:
        stop(process)
    if not (folder / ".langgraph_api").is_dir():
        raise ServerFailed(f"langgraph dev wrote no .langgraph_api/ in {folder}")
