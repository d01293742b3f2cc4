"""Fact keys: the one place that says what each key means, and how facts are named.

Every module that treats a key specially reads it from here: the reconciler
(which keys hold one value, which are opposites, which are guards), the packer
(which facts are pinned first), durable-memory ranking (the words a request
uses for a key, the keys always relevant), the memory boundary (sensitive and
personal keys) and reference resolution (which facts are choices).

Example:
    >>> fact_id("user", "name", "Ana") == fact_id("user", "name", "  ana ")
    True
    >>> [is_single_valued(key) for key in ("lives_in", "favourite_colour", "likes")]
    [True, True, False]
    >>> is_guard("no_longer:lives_in"), is_guard("do_not_assume"), is_guard("decision")
    (True, True, False)
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "ALWAYS_RELEVANT_KEYS",
    "CHOICE_KEYS",
    "DO_NOT_ASSUME",
    "GUARD_KEYS",
    "KEY_HINTS",
    "NO_LONGER",
    "OPPOSITES",
    "PERSONAL_KEYS",
    "PINNED_KEYS",
    "SENSITIVE_KEYS",
    "SINGLE_RELATIONS",
    "SINGLE_VALUED",
    "TASTES",
    "base_key",
    "comparable",
    "fact_id",
    "is_guard",
    "is_single_valued",
    "is_taste",
    "normalize",
]

_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\s\"'`(\[]+|[\s\"'`)\].,;:!?]+$")


def normalize(text: str) -> str:
    """Return text folded for comparison: lower case, single spaces, no edge punctuation.

    Example:
        >>> normalize("  The Violation   was INTENTIONAL. ")
        'the violation was intentional'
    """
    return _EDGE.sub("", _SPACE.sub(" ", text.casefold()).strip())


def comparable(value: str) -> str:
    """Return a fact's value as compared with another's: `normalize`d, a leading "that " cut.

    "Don't assume that the flight is booked" and "the flight is booked" name one
    assumption.
    """
    return normalize(value).removeprefix("that ")


def fact_id(subject: str, key: str, value: str) -> str:
    """Return the stable id of a fact: the same statement always gets the same id.

    The id is what makes durable writes idempotent: the same fact proposed in two
    threads, or written twice after a resume, lands on one store key.
    """
    body = "\x1f".join((normalize(subject), normalize(key), normalize(value)))
    return "fact-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def base_key(key: str) -> str:
    """Return a key without its qualifier: ``family`` for ``family:wife``."""
    return key.split(":", 1)[0]


SINGLE_RELATIONS = frozenset(
    {"wife", "husband", "partner", "spouse", "girlfriend", "boyfriend", "boss", "manager"}
)
"""Relations a person has one of at a time (``family:wife``); others (``family:son``) add up."""

SINGLE_VALUED = frozenset(
    {
        "name",
        "preferred_name",
        "lives_in",
        "from",
        "address",
        "works_at",
        "occupation",
        "diet",
        "marital_status",
        "urgency",
        *(f"family:{relation}" for relation in SINGLE_RELATIONS),
    }
)
"""Keys that hold one value at a time: a new value supersedes the old one.

``favourite_*`` keys (``favourite_colour``) are single-valued too (`is_single_valued`)."""


def is_single_valued(key: str) -> bool:
    """Whether a new value for ``key`` supersedes the old one."""
    return key in SINGLE_VALUED or key.startswith("favourite_")


OPPOSITES = {"likes": "dislikes", "dislikes": "likes"}
"""Keys whose facts supersede each other for the same value (``likes jazz``, ``dislikes jazz``)."""

TASTES = frozenset({"likes", "preference", "diet"})
"""Keys a retraction that names no key can retire ("I don't eat meat anymore")."""


def is_taste(key: str) -> bool:
    """Whether ``key`` is a taste: a like, preference, diet or ``favourite_*``."""
    return key in TASTES or key.startswith("favourite_")


DO_NOT_ASSUME = "do_not_assume"
"""The key of the fact a rejection leaves: the assumption the user rejected."""

NO_LONGER = "no_longer"
"""The key of the fact a retraction leaves (``no_longer:lives_in: Paris``)."""

GUARD_KEYS = (DO_NOT_ASSUME, NO_LONGER)
"""Facts that stand for a rejection or a retraction: while one is active, the model
repeating what it covers is recorded as rejected, not packed."""


def is_guard(key: str) -> bool:
    """Whether a fact with ``key`` guards a rejection or a retraction (not a claim)."""
    return key == DO_NOT_ASSUME or base_key(key) == NO_LONGER


PINNED_KEYS = frozenset({DO_NOT_ASSUME, "constraint", "decision"})
"""Thread facts packed first however old they are: decisions, constraints, rejections."""

CHOICE_KEYS = ("decision", "preference")
"""Facts "same as before" can point back to."""

ALWAYS_RELEVANT_KEYS = frozenset({"name", "preferred_name"})
"""Keys relevant to every request: how to address the user."""

KEY_HINTS: dict[str, str] = {
    "name": "name called who",
    "preferred_name": "name call called who",
    "lives_in": "live living home city where based located move",
    "from": "from origin hometown where",
    "address": "address home live where",
    "works_at": "work job company employer office where",
    "occupation": "job work profession occupation career",
    "likes": "like love enjoy favourite favorite prefer recommend suggest suggestion gift",
    "dislikes": "dislike hate avoid like recommend suggest suggestion",
    "preference": "prefer preference like recommend suggest",
    "favourite": "favourite favorite like prefer",
    "diet": "diet food eat eating meal restaurant dinner lunch breakfast recipe cook menu",
    "allergy": "allergy allergic food eat eating meal restaurant dinner lunch breakfast recipe "
    "cook menu safe",
    "health": "health medical condition doctor",
    "medication": "medication medicine pill doctor",
    "plan": "plan trip travel when schedule holiday vacation",
    "email": "email mail contact reach address",
    "phone": "phone number call contact reach text",
    "family": "family",
}
"""Words a request uses when a fact with that key is relevant, though the fact's own
text does not contain them ("where do I live?" finds ``lives_in``)."""

SENSITIVE_KEYS = frozenset({"allergy", "health", "medication", "diagnosis", "religion"})
"""Keys whose facts are sensitive whatever an extractor says."""

PERSONAL_KEYS = frozenset({"email", "phone", "address", "family", "marital_status"})
"""Keys whose facts are personal data whatever an extractor says."""
