"""Key names and small codecs of `RedisSaver` (the layout is described in `redis_saver`)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from memorygraph.checkpointers.backends.redis_client import key_part, pack

__all__ = ["SaverKeys", "blob_field", "text", "thread_config"]


class SaverKeys:
    """The names of a saver's keys (see `redis_saver` for what each holds)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.threads = f"{prefix}:threads"

    def thread(self, thread_id: str) -> str:
        """The common start of a thread's keys."""
        return f"{self.prefix}:t:{key_part(thread_id)}"

    def namespaces(self, thread_id: str) -> str:
        """The set of the thread's checkpoint namespaces."""
        return f"{self.thread(thread_id)}:ns"

    def registry(self, thread_id: str) -> str:
        """The set of every other key of the thread."""
        return f"{self.thread(thread_id)}:keys"

    def ns(self, thread_id: str, ns: str) -> str:
        """The common start of a namespace's keys."""
        return f"{self.thread(thread_id)}:{key_part(ns)}"

    def ids(self, thread_id: str, ns: str) -> str:
        """The sorted set of a namespace's checkpoint ids."""
        return f"{self.ns(thread_id, ns)}:ids"

    def checkpoint(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        """The hash of one checkpoint."""
        return f"{self.ns(thread_id, ns)}:c:{key_part(checkpoint_id)}"

    def blobs(self, thread_id: str, ns: str) -> str:
        """The hash of a namespace's channel values."""
        return f"{self.ns(thread_id, ns)}:b"

    def writes(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        """The hash of one checkpoint's pending writes."""
        return f"{self.ns(thread_id, ns)}:w:{key_part(checkpoint_id)}"


def text(value: bytes | str) -> str:
    """A reply as text."""
    return value.decode() if isinstance(value, bytes) else value


def blob_field(channel: str, version: Any) -> bytes:
    """The blobs hash's field for a (channel, version)."""
    return pack(channel, str(version))


def thread_config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    """The config that names one checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }
