"""Packing: the parts of the packer that stand on their own.

`memorygraph.packing.truncation` shortens the turn in progress's tool results
when the turn would not fit the budget otherwise. The packer itself is
`memorygraph.nodes.pack_context`.
"""

from memorygraph.packing.truncation import TRUNCATION_MARKER, shorten_tool_results, truncate_text

__all__ = ["TRUNCATION_MARKER", "shorten_tool_results", "truncate_text"]
