"""The ready-made memory graph, `add_memory` for your own graph, `MemoryMiddleware` for agents."""

from memorygraph.graph.builder import MemoryGraph, build_memory_graph, create_memory_graph
from memorygraph.graph.dropin import add_memory
from memorygraph.graph.middleware import MemoryAgentState, MemoryMiddleware

__all__ = [
    "MemoryAgentState",
    "MemoryGraph",
    "MemoryMiddleware",
    "add_memory",
    "build_memory_graph",
    "create_memory_graph",
]
