"""What pruning keeps, for the adapters that prune by themselves (memory, SQLite, Redis).

Each namespace of a thread keeps its latest checkpoint, except a finished
subgraph call's: a call's namespace ends with ``:<task id>`` and goes with the
root checkpoint it started from, once that is not the one kept. A
``checkpointer=True`` subgraph's namespace has no task id, because its state
outlives each call, and keeps its latest checkpoint. A thread that uses a
`DeltaChannel` is refused: its value is rebuilt from older checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Head", "finished_calls", "is_delta", "root_of"]

# A `DeltaChannel` leaves these keys in checkpoint metadata (the second one is
# LangGraph.js's), and rebuilds its value from older checkpoints' writes.
DELTA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")

# A subgraph call's namespace ends with ":<task id>"; a `checkpointer=True`
# subgraph's has none, because its state outlives each call.
_CALL_SEPARATOR = ":"


@dataclass(frozen=True)
class Head:
    """A namespace's latest checkpoint."""

    namespace: str
    checkpoint_id: str
    root: str | None
    """The root checkpoint a subgraph call started from."""


def is_delta(metadata: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's metadata shows a `DeltaChannel`."""
    return any(key in metadata for key in DELTA_KEYS)


def root_of(metadata: Mapping[str, Any]) -> str | None:
    """The root checkpoint id a subgraph call's checkpoint names, if any."""
    parents = metadata.get("parents")
    root = parents.get("") if isinstance(parents, Mapping) else None
    return root if isinstance(root, str) else None


def finished_calls(heads: Iterable[Head], root_ids: set[str]) -> set[str]:
    """The subgraph call namespaces whose root checkpoint is not the one kept.

    A call whose root checkpoint is not saved (yet) is left alone: runs save
    in the background, so a call's checkpoints can commit before its root's.
    """
    heads = list(heads)
    kept_root = next((head.checkpoint_id for head in heads if head.namespace == ""), None)
    return {
        head.namespace
        for head in heads
        if _CALL_SEPARATOR in head.namespace
        and head.root is not None
        and head.root in root_ids
        and head.root != kept_root
    }
