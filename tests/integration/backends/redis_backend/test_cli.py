"""The command line on Redis: the demo, threads and forget, and no password on screen."""

from __future__ import annotations

import pytest

from memorygraph.cli import EXIT_OK
from tests.integration.cli.test_cli import run

pytestmark = pytest.mark.redis

SECRET = "pw-not-for-screens"


@pytest.mark.slow
def test_demo_threads_and_forget_on_redis(redis_url: str) -> None:
    # The server has no password: its default user accepts any, so the URL can carry one.
    url = redis_url.replace("redis://", f"redis://:{SECRET}@", 1)
    demo = run("demo", "--db", url)
    assert demo.returncode == EXIT_OK, demo.stderr[-2000:]
    assert "Where do I live?" in demo.stdout or "where do I live?" in demo.stdout
    assert "redis://:***@127.0.0.1" in demo.stdout
    assert SECRET not in demo.stdout + demo.stderr
    listed = run("threads", "--db", url)
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    assert listed.returncode == EXIT_OK and [row[0] for row in rows[2:]] == ["demo"], rows
    gone = run("forget", "--thread", "demo", "--db", url)
    assert gone.returncode == EXIT_OK, gone.stderr[-2000:]
    assert run("threads", "--db", url).stdout.split()[:2] == ["no", "threads"]
    assert SECRET not in gone.stdout + gone.stderr
