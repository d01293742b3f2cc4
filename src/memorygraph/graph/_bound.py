"""Refuse a graph that would persist threads without bounding them: a checkpointer with no store.

``summarize`` folds old turns into the summary only after archiving them in the
store, so that nothing is ever dropped unread. With a checkpointer and no store
it can fold nothing, and every persisted thread would grow without limit. The
graph is refused instead, with a `ConfigError` that says how to open a store.
Without a checkpointer nothing persists between runs, so no store is needed
(``create_memory_graph(model)`` packs what each run is given).

`create_memory_graph` checks when it builds the graph; a graph `add_memory`
prepared gets its saver and store at ``compile()``, and checks at each run
that has a saver of its own (a subgraph call uses its parent's store).

Example:
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> require_store(InMemorySaver(), None, where="create_memory_graph")
    Traceback (most recent call last):
    ...
    memorygraph.errors.ConfigError: create_memory_graph has a checkpointer but no store: ...
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver

from memorygraph.errors import ConfigError

__all__ = ["require_store"]


def require_store(checkpointer: object, store: object, *, where: str) -> None:
    """Raise `ConfigError` when a saver persists threads and no store can archive their turns.

    Args:
        checkpointer: The graph's checkpointer (None, a saver, or LangGraph's
            ``True``/``False`` for a subgraph; only a saver is checked).
        store: The graph's store.
        where: What is being built or run, named in the message.

    Raises:
        ConfigError: A saver and no store.
    """
    if isinstance(checkpointer, BaseCheckpointSaver) and store is None:
        raise ConfigError(
            f"{where} has a checkpointer but no store: old turns are folded away only "
            "once the store has archived them, so each thread would grow without limit. "
            "Open a store on the same database and pass it too: "
            "`with open_checkpointer(url) as saver, open_store(url) as store: "
            "create_memory_graph(model, checkpointer=saver, store=store)` "
            '(`open_store("memory")` in tests; with add_memory, '
            "`add_memory(builder, before=...).compile(checkpointer=saver, store=store)`). "
            "Without a checkpointer "
            "nothing persists and no store is needed."
        )
