"""The `FactExtractor` protocol, and the `Claim`s an extractor returns.

An extractor reads turns and says what they claim: a fact, a correction of an
earlier fact, the rejection of an assumption, or the retraction of what stopped
being true. It does not decide what is true. `memorygraph.facts.reconcile`
reconciles the claims with the facts already known, and enforces the invariants
(corrections supersede, rejected assumptions stay rejected without new
evidence, trust is capped by who spoke), so every extractor gets them for free.

Example:
    >>> claim = Claim(key="lives_in", value="Porto", source_turn_id="h1")
    >>> claim.action, claim.subject, claim.scope
    ('assert', 'user', 'thread')
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from memorygraph.records import Fact, FactScope, Sensitivity, TrustLevel

__all__ = ["Claim", "ClaimAction", "Extraction", "FactExtractor"]

ClaimAction = Literal["assert", "correct", "reject", "retract"]


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
        sensitivity: The extractor's judgement;
            `memorygraph.facts.candidates.sensitivity_floor` can only raise it.
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
