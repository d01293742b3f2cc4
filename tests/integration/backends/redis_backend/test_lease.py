"""The thread lock on Redis: a lease with a token, renewed, released, expiring."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import redis

from memorygraph.checkpointers import aopen_checkpointer, open_checkpointer
from memorygraph.checkpointers.backends import redis_lock
from memorygraph.checkpointers.backends.redis_lock import lease_key
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from memorygraph.errors import ThreadBusyError
from memorygraph.graph._lock import athread_lock, thread_lock

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[4]

_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from memorygraph.checkpointers import open_checkpointer
    from memorygraph.checkpointers.backends import redis_lock
    from memorygraph.graph._lock import thread_lock

    url, thread, ready = sys.argv[1:4]
    redis_lock.LEASE_SECONDS = float(sys.argv[4])
    with open_checkpointer(url) as saver, thread_lock(saver, thread):
        Path(ready).write_text("held")
        time.sleep(600)
    """
)


def _saver(url: str) -> RedisSaver:
    return RedisSaver(redis.Redis.from_url(url.partition("?")[0]), prefix=url.split("prefix=")[1])


def _start_holder(url: str, thread: str, ready: Path, lease: float) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url, thread, str(ready), str(lease)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert holder.poll() is None, "the holder process failed"
        assert time.monotonic() < deadline, "the holder never took the lease"
        time.sleep(0.05)
    return holder


@pytest.mark.slow
def test_a_lease_held_by_another_process_blocks_until_that_process_dies(
    redis_url: str, tmp_path: Path
) -> None:
    holder = _start_holder(redis_url, "t1", tmp_path / "ready", lease=1.5)
    try:
        with open_checkpointer(redis_url) as saver:
            assert isinstance(saver, RedisSaver)
            with pytest.raises(ThreadBusyError):
                with thread_lock(saver, "t1", timeout=2.0):  # renewed past its 1.5 s
                    pass  # pragma: no cover
            with thread_lock(saver, "t2", timeout=0.5):
                pass  # another thread is free
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            began = time.monotonic()
            with thread_lock(saver, "t1", timeout=10):
                waited = time.monotonic() - began
                assert saver.conn.get(lease_key(saver, "t1")) is not None
            assert waited < 5  # the dead process's lease expired (1.5 s), not the 10 s wait
            assert saver.conn.get(lease_key(saver, "t1")) is None  # released on exit
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_lease_is_renewed_while_the_run_lasts(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_lock, "LEASE_SECONDS", 1.0)
    first, second = _saver(redis_url), _saver(redis_url)  # two clients: no in-process lock
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with thread_lock(first, "t"):
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(ThreadBusyError):
            with thread_lock(second, "t", timeout=3.0):  # three lease lengths
                pass  # pragma: no cover
    finally:
        done.set()
        holder.join()
    with thread_lock(second, "t", timeout=2.0):
        pass
    assert first.conn.exists(lease_key(first, "t")) == 0


def test_a_lease_taken_over_is_not_released_by_its_old_owner(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_lock, "LEASE_SECONDS", 60.0)
    saver = _saver(redis_url)
    key = lease_key(saver, "t")
    with thread_lock(saver, "t"):
        saver.conn.set(key, "someone else")  # as if it expired and another run took it
    assert saver.conn.get(key) == b"someone else"


async def test_the_async_lease_is_renewed_and_released(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_lock, "LEASE_SECONDS", 1.0)
    async with aopen_checkpointer(redis_url) as saver:
        assert isinstance(saver, RedisSaver)
        other = _saver(redis_url)
        key = lease_key(saver, "t")
        async with athread_lock(saver, "t"):
            await asyncio.sleep(2.5)  # two and a half lease lengths: renewed by its task

            def take() -> None:
                with thread_lock(other, "t", timeout=1.5):
                    pass  # pragma: no cover

            with pytest.raises(ThreadBusyError):
                await asyncio.to_thread(take)  # the loop keeps renewing meanwhile
        assert other.conn.exists(key) == 0
