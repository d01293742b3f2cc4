"""Deprecated: the forget functions are in `memorygraph.admin`.

``from memorygraph.forget import forget_thread`` still works, with a
`DeprecationWarning`; import them from `memorygraph.admin` (or `memorygraph`).
"""

from __future__ import annotations

import warnings
from typing import Any

from memorygraph.admin import forget as _forget

_MOVED = frozenset(_forget.__all__)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"memorygraph.forget.{name} moved to memorygraph.admin.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_forget, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
