"""Deprecated: `sweep_expired` moved to `memorygraph.admin`, `ttl_minutes` to `store.retention`.

``from memorygraph.retention import sweep_expired`` still works, with a
`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from memorygraph.admin import sweep as _sweep
from memorygraph.store import retention as _retention

_MOVED = {
    "asweep_expired": _sweep,
    "sweep_expired": _sweep,
    "ttl_minutes": _retention,
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        home = _MOVED[name]
        warnings.warn(
            f"memorygraph.retention.{name} moved to {home.__name__}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(home, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
