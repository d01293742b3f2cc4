"""The ready-made memory graph."""

from memorygraph.graph.builder import MemoryGraph, build_memory_graph, create_memory_graph

__all__ = ["MemoryGraph", "build_memory_graph", "create_memory_graph"]
