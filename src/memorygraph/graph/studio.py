"""The entry point for LangGraph Studio and the LangGraph API server (``langgraph.json``).

``graph`` is the memory graph compiled without a checkpointer or a store: the
server brings its own and attaches them to every run. ``agent`` is the same
memory in a LangChain ``create_agent`` agent, through `MemoryMiddleware`
(served as ``memorygraph_agent``). The model comes from the
environment, as for the ``memorygraph`` command: ``MEMORYGRAPH_MODEL`` (through
``init_chat_model``), else ``ChatOpenAI`` when ``OPENAI_API_KEY`` is set, else
the offline model.

Pass who is calling as the run's context, ``{"tenant_id": ..., "user_id": ...}``,
or in ``configurable``.

``embed_texts`` is the store index's embedding function in ``langgraph.json``
(archived turns are embedded as they are folded away, for recall): a hashing
embedding that runs offline, so the server starts without an API key.
For real semantic search point ``store.index.embed`` at a model instead, such
as ``"openai:text-embedding-3-small"`` with ``"dims": 1536``.

Example:
    >>> from memorygraph.graph.studio import EMBEDDING_DIMS, embed_texts
    >>> same, other = embed_texts(["I live in Lisbon", "i LIVE in lisbon!"]), embed_texts(["tea"])
    >>> len(same[0]) == EMBEDDING_DIMS, same[0] == same[1], same[0] == other[0]
    (True, True, False)
    >>> round(sum(x * x for x in same[0]), 6)
    1.0
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from langchain.agents import create_agent

from memorygraph.graph.builder import MemoryGraph, create_memory_graph
from memorygraph.graph.middleware import MemoryMiddleware
from memorygraph.offline import resolve_model

__all__ = ["EMBEDDING_DIMS", "agent", "embed_texts", "graph"]

EMBEDDING_DIMS = 256
"""The size of `embed_texts` vectors; ``store.index.dims`` in ``langgraph.json``."""

_WORD = re.compile(r"\w+")


def _bucket(word: str) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % EMBEDDING_DIMS, 1.0 if value >> 63 else -1.0


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    """Embed texts offline: hashed word counts, L2-normalised (the feature-hashing trick).

    Texts that share words get similar vectors. It is deterministic and needs no
    model, which makes it a stand-in for development, not a semantic embedding.

    Args:
        texts: The texts to embed.

    Returns:
        One vector of `EMBEDDING_DIMS` floats per text (all zeros for a text
        without words).
    """
    vectors: list[list[float]] = []
    for text in texts:
        vector = [0.0] * EMBEDDING_DIMS
        for word in _WORD.findall(text.casefold()):
            index, sign = _bucket(word)
            vector[index] += sign
        norm = math.sqrt(sum(x * x for x in vector))
        vectors.append([x / norm for x in vector] if norm else vector)
    return vectors


graph: MemoryGraph = create_memory_graph(resolve_model())
"""The memory graph as the API server loads it: no checkpointer, no store of its own."""

agent = create_agent(
    resolve_model(),
    [],
    middleware=[MemoryMiddleware()],
    # No context schema: on the server, who is calling comes from the API key
    # (`memorygraph.graph.auth`), and the server sends an empty context.
    name="memorygraph_agent",
)
"""A LangChain ``create_agent`` agent with `MemoryMiddleware`, served as ``memorygraph_agent``."""
