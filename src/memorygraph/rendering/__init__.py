"""Rendering: a package to the chat messages the model is sent, and what each part costs.

- `memorygraph.rendering.messages`: `render_messages`, `safe_turn` (the one rule for
  what of a thread's turn reaches the model), the item and system formats.
- `memorygraph.rendering.cost`: what a rendered item costs in tokens.
"""

from memorygraph.rendering.messages import render_messages, safe_turn

__all__ = ["render_messages", "safe_turn"]
