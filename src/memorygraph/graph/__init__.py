"""The ready-made memory graph, and `add_memory` to put memory into a graph of your own."""

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
