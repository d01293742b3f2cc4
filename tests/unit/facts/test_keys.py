"""The fact keys are listed once, in memorygraph.facts.keys, and everything reads them there."""

from __future__ import annotations

import ast
import pathlib

import memorygraph
from memorygraph.facts import keys

SRC = pathlib.Path(memorygraph.__file__).parent


def test_single_valued_relations_come_from_one_list() -> None:
    for relation in keys.SINGLE_RELATIONS:
        assert keys.is_single_valued(f"family:{relation}")
    assert not keys.is_single_valued("family:son")
    assert keys.is_single_valued("favourite_film")


def test_guards_and_their_text() -> None:
    assert keys.is_guard("do_not_assume")
    assert keys.is_guard("no_longer")
    assert keys.is_guard("no_longer:lives_in")
    assert not keys.is_guard("do_not_assume_x")
    assert keys.comparable("That the flight is booked.") == "the flight is booked"


def test_fact_ids_ignore_case_and_spacing() -> None:
    assert keys.fact_id("user", "likes", "Jazz ") == keys.fact_id("User", "likes", "jazz")
    assert keys.fact_id("user", "likes", "jazz") != keys.fact_id("user", "dislikes", "jazz")


def test_no_other_module_spells_the_special_keys() -> None:
    # The keys the reconciler, the packer, the ranker and the boundary treat
    # specially appear as string literals only in facts/keys.py.
    special = {keys.DO_NOT_ASSUME, keys.NO_LONGER, "lives_in", "preferred_name", "marital_status"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "facts" / "keys.py" or "_rules" in path.parts:
            continue  # the extractor's rules name the keys they produce
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in special
                and id(node) not in docstrings
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value}")
    assert offenders == []
