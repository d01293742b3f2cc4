"""memorygraph's graph nodes, each a pure core plus a thin node.

Use them in your own graph: any state with ``messages`` plus the memorygraph
keys a node reads will do (merge `memorygraph.MemoryState` into yours). Each
node is a `MemoryStep`: a LangChain ``RunnableLambda`` for ``add_node``, whose
plain functions ``step.run(state, config, runtime)`` and ``step.arun`` are the
step itself.
"""

from memorygraph.nodes.approval import approve, make_approve, needs_approval
from memorygraph.nodes.extraction import (
    aextract_facts_from,
    extract_facts,
    extract_facts_from,
    make_extract_facts,
)
from memorygraph.nodes.model import make_call_model, strip_reasoning
from memorygraph.nodes.packer import make_pack_context, pack_context
from memorygraph.nodes.steps import MemoryStep
from memorygraph.nodes.summarization import (
    asummarize_messages,
    make_summarize,
    summarize,
    summarize_messages,
)
from memorygraph.packing import abuild_package, build_package

__all__ = [
    "MemoryStep",
    "abuild_package",
    "aextract_facts_from",
    "approve",
    "asummarize_messages",
    "build_package",
    "extract_facts",
    "extract_facts_from",
    "make_approve",
    "make_call_model",
    "make_extract_facts",
    "make_pack_context",
    "make_summarize",
    "needs_approval",
    "pack_context",
    "strip_reasoning",
    "summarize",
    "summarize_messages",
]
