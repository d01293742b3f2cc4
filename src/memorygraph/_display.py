"""Kept for older imports: the renderings live in the public `memorygraph.display`."""

from memorygraph.display import budget_bar, compact_table, package_html, package_table

__all__ = ["budget_bar", "compact_table", "package_html", "package_table"]
