"""Packing: the state turned into one deterministic, budgeted `ContextPackage`.

- `memorygraph.packing.candidates`: the state turned into candidate items (`collect_items`).
- `memorygraph.packing.package`: `filter_items`, and `build_package`, which runs the steps.
- `memorygraph.packing.budget`: `pack_items`, the priorities, units and shares (`adapt_shares`).
- `memorygraph.packing.summary`: the summary's text, fitted to its share.
- `memorygraph.packing.truncation`: the turn in progress's tool results, shortened to fit.

The node that runs the packer in a graph is `memorygraph.nodes.pack_context`.
"""

from memorygraph.packing.budget import adapt_shares, pack_items
from memorygraph.packing.candidates import collect_items
from memorygraph.packing.package import abuild_package, build_package, filter_items
from memorygraph.packing.truncation import TRUNCATION_MARKER, shorten_tool_results, truncate_text

__all__ = [
    "TRUNCATION_MARKER",
    "abuild_package",
    "adapt_shares",
    "build_package",
    "collect_items",
    "filter_items",
    "pack_items",
    "shorten_tool_results",
    "truncate_text",
]
