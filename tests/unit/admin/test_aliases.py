"""The forget and retention modules moved to `memorygraph.admin`; the old paths warn."""

from __future__ import annotations

import importlib

import pytest

import memorygraph
from memorygraph import admin
from memorygraph.store.retention import ttl_minutes


def test_the_admin_package_is_the_home_of_forget_and_sweep() -> None:
    for name in ("forget_thread", "forget_user", "forget_tenant"):
        assert getattr(memorygraph, name) is getattr(admin, name)
    for name in ("forget_thread", "forget_user", "forget_tenant", "sweep_expired"):
        assert callable(getattr(admin, name)) and callable(getattr(admin, f"a{name}"))


@pytest.mark.parametrize(
    ("module", "name", "moved_to"),
    [
        ("memorygraph.forget", "forget_user", admin.forget_user),
        ("memorygraph.forget", "ForgetReport", admin.ForgetReport),
        ("memorygraph.retention", "sweep_expired", admin.sweep_expired),
        ("memorygraph.retention", "ttl_minutes", ttl_minutes),
    ],
)
def test_old_paths_import_with_a_warning(module: str, name: str, moved_to: object) -> None:
    old = importlib.import_module(module)
    with pytest.deprecated_call(match="moved to memorygraph"):
        assert getattr(old, name) is moved_to


def test_the_old_paths_know_only_what_moved() -> None:
    with pytest.raises(AttributeError):
        importlib.import_module("memorygraph.forget").nothing  # noqa: B018
