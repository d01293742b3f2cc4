"""The public contract: every name in DESIGN.md is exported, and __all__ is complete and sorted."""

from __future__ import annotations

import inspect

import memorygraph
import memorygraph.checkpointers
import memorygraph.nodes

CONTRACT = {
    "create_memory_graph",
    "build_memory_graph",
    "MemoryConfig",
    "MemoryContext",
    "MemoryState",
    "ContextPackage",
    "ContextItem",
    "Priority",
    "Fact",
    "TrustLevel",
    "SessionSummary",
    "TokenCounter",
    "MemoryGraphError",
    "ContextBudgetExceeded",
    "add_memory",
    "MemoryMiddleware",
    "forget_thread",
    "forget_user",
    "forget_tenant",
}


def test_contract_names_are_exported() -> None:
    assert CONTRACT <= set(memorygraph.__all__)
    assert {"open_checkpointer", "open_store"} <= set(memorygraph.checkpointers.__all__)
    assert {"extract_facts", "summarize", "pack_context"} <= set(memorygraph.nodes.__all__)


def test_all_is_complete_and_sorted() -> None:
    for module in (memorygraph, memorygraph.nodes, memorygraph.checkpointers):
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and not inspect.ismodule(value)
        }
        assert public == set(module.__all__) - {"__version__"}, module.__name__
        assert list(module.__all__) == sorted(module.__all__), module.__name__


def test_errors_derive_from_the_root_and_a_builtin() -> None:
    from memorygraph import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, memorygraph.MemoryGraphError)
        if cls is not memorygraph.MemoryGraphError:
            assert issubclass(cls, ValueError | RuntimeError), name
        assert not issubclass(cls, KeyboardInterrupt)


def test_the_top_level_stays_small() -> None:
    assert len(memorygraph.__all__) <= 25


def test_names_that_moved_still_import_with_a_warning() -> None:
    import importlib

    import pytest

    for name, home in memorygraph._MOVED.items():
        with pytest.warns(DeprecationWarning, match=f"memorygraph.{name} has moved: .*{home}"):
            value = getattr(memorygraph, name)
        assert value is getattr(importlib.import_module(home), name)
        assert name not in memorygraph.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        memorygraph.Nonexistent  # noqa: B018


def test_no_node_object_shadows_a_module() -> None:
    """``memorygraph.nodes.<name>`` is a node or a module, never a node hiding a module."""
    import importlib
    import pkgutil
    import types

    from memorygraph.nodes import MemoryStep

    modules = {info.name for info in pkgutil.iter_modules(memorygraph.nodes.__path__)}
    assert modules == {"approval", "extraction", "model", "packer", "steps", "summarization"}
    for name in modules:
        module = importlib.import_module(f"memorygraph.nodes.{name}")
        assert isinstance(getattr(memorygraph.nodes, name), types.ModuleType), name
        assert module is getattr(memorygraph.nodes, name)
    for node in ("extract_facts", "approve", "summarize", "pack_context"):
        assert isinstance(getattr(memorygraph.nodes, node), MemoryStep), node
        assert node not in modules
