"""The `FactExtractor` protocol, and the `Claim`s an extractor returns.

An extractor reads turns and says what they claim: a fact, a correction of an
earlier fact, or the rejection of an assumption. It does not decide what is
true. `memorygraph.nodes.extract_facts.extract_facts_from` reconciles the claims
with the facts already known, and enforces the invariants (corrections
supersede, rejected assumptions stay rejected without new evidence, trust is
capped by who spoke), so every extractor gets them for free.

Example:
    >>> fact_id("user", "name", "Ana") == fact_id("user", "name", "  ana ")
    True
    >>> sensitivity_floor("allergy", "peanuts"), sensitivity_floor("note", "mail ana@example.org")
    ('sensitive', 'personal')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from memorygraph.records import Fact, FactScope, Sensitivity, TrustLevel
from memorygraph.redact import has_personal_data

__all__ = [
    "Claim",
    "ClaimAction",
    "Extraction",
    "FactExtractor",
    "fact_id",
    "max_sensitivity",
    "normalize",
    "sensitivity_floor",
]

ClaimAction = Literal["assert", "correct", "reject", "retract"]

_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\s\"'`(\[]+|[\s\"'`)\].,;:!?]+$")
_RANK: dict[Sensitivity, int] = {"none": 0, "personal": 1, "sensitive": 2}

# Keys and words that make a fact sensitive or personal whatever an extractor
# says: the approval invariant must not depend on an LLM labelling correctly.
_SENSITIVE_KEYS = frozenset({"allergy", "health", "medication", "diagnosis", "religion"})
_PERSONAL_KEYS = frozenset({"email", "phone", "address", "family", "marital_status"})
_SENSITIVE_WORDS = re.compile(
    r"\b(?:allerg\w*|anaphyla\w*|diagnos\w*|medicat\w*|prescri\w*|pregnan\w*|diabet\w*|"
    r"asthma\w*|epilep\w*|cancer|tumou?r|hiv|aids|depress\w*|anxiety|bipolar|schizo\w*|"
    r"ptsd|adhd|autis\w*|disease|disorder|syndrome|therap\w*|surgery|chemo\w*|insulin|"
    r"celiac|coeliac|intoleran\w*|disabilit\w*|religio\w*|sexual\w*|orientation)\b",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Return text folded for comparison: lower case, single spaces, no edge punctuation.

    Example:
        >>> normalize("  The Violation   was INTENTIONAL. ")
        'the violation was intentional'
    """
    return _EDGE.sub("", _SPACE.sub(" ", text.casefold()).strip())


def fact_id(subject: str, key: str, value: str) -> str:
    """Return the stable id of a fact: the same statement always gets the same id.

    The id is what makes durable writes idempotent: the same fact proposed in two
    threads, or written twice after a resume, lands on one store key.
    """
    body = "\x1f".join((normalize(subject), normalize(key), normalize(value)))
    return "fact-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def max_sensitivity(*levels: Sensitivity) -> Sensitivity:
    """Return the most sensitive of the given levels."""
    return max(levels, key=lambda level: _RANK[level], default="none")


def sensitivity_floor(key: str, value: str) -> Sensitivity:
    """Return the least sensitivity a fact can have, judged from its key and value."""
    base = key.split(":", 1)[0]
    if base in _SENSITIVE_KEYS or _SENSITIVE_WORDS.search(f"{key} {value}"):
        return "sensitive"
    # Contact details and identifiers: whatever the audit trace would redact
    # (one detector for both, `memorygraph.redact`).
    if base in _PERSONAL_KEYS or has_personal_data(value):
        return "personal"
    return "none"


class Claim(BaseModel):
    """What one turn says, before it is reconciled with what is already known.

    Attributes:
        action: ``assert`` a fact, ``correct`` an earlier one, ``reject`` an
            assumption, or ``retract`` what stopped being true ("I no longer
            live in Paris": key ``lives_in``, value ``Paris``).
        key: What the claim is about (``name``, ``likes``, ``decision``, ...).
            None for a correction or rejection whose target the extractor could
            not name; the reconciler then finds the target itself.
        value: The value; for a rejection, the assumption rejected (may be
            empty for a bare "that's wrong"); for a retraction, what is no
            longer true.
        subject: Who or what the claim is about; ``user`` for the speaker.
        previous: For a correction, the words being replaced ("not X but Y"
            gives ``previous="X"``, ``value="Y"``).
        source_turn_id: The id of the message the claim comes from.
        trust_level: The trust the extractor proposes. The reconciler caps it
            by who spoke: a user's turn never yields more than ``user_claimed``.
        sensitivity: The extractor's judgement; `sensitivity_floor` can only
            raise it.
        scope: ``thread`` for facts about the work at hand, ``user`` for facts
            worth remembering across threads.
        expires_at: When the claim stops being true, if the turn says.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: ClaimAction = "assert"
    key: str | None
    value: str
    subject: str = "user"
    previous: str | None = None
    source_turn_id: str
    trust_level: TrustLevel = TrustLevel.USER_CLAIMED
    sensitivity: Sensitivity = "none"
    scope: FactScope = "thread"
    expires_at: datetime | None = None


class Extraction(BaseModel):
    """Everything an extractor read in a batch of turns.

    Attributes:
        claims: The claims, in the order the turns made them.
        task: A new active task, when the turns start one.
        step: The current step of the task, when the turns name one.
        entities: Entity names mentioned (``case C-1042``) mapped to their ids.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    claims: list[Claim] = Field(default_factory=list)
    task: str | None = None
    step: str | None = None
    entities: dict[str, str] = Field(default_factory=dict)


@runtime_checkable
class FactExtractor(Protocol):
    """Reads turns and returns what they claim. Sync and async twins."""

    def extract(
        self, turns: Sequence[BaseMessage], *, existing: Sequence[Fact], now: datetime
    ) -> Extraction:
        """Return the claims made by ``turns`` (the turns after the watermark).

        Args:
            turns: The new turns, oldest first. Only these are read.
            existing: Facts already known (thread and durable), for context.
            now: The current time, to resolve relative dates.
        """
        ...

    async def aextract(
        self, turns: Sequence[BaseMessage], *, existing: Sequence[Fact], now: datetime
    ) -> Extraction:
        """Async twin of `extract`."""
        ...
