"""The memory boundary: which facts may become durable memory, and who must agree.

A fact worth keeping across threads becomes a `MemoryCandidate` with the
boundary checks: relevance, stability, consent, sensitivity, source, expiry and
scope. A candidate with a ``reason`` waits for a human (sensitive, personal,
model-inferred or tenant-wide); one without is written at once.

Sensitivity is judged here too: `sensitivity_floor` raises what an extractor
says from the fact's key and words, so the approval invariant does not depend on
an LLM labelling correctly.

Example:
    >>> sensitivity_floor("allergy", "peanuts"), sensitivity_floor("note", "mail ana@example.org")
    ('sensitive', 'personal')
    >>> max_sensitivity("none", "personal")
    'personal'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from datetime import datetime

from memorygraph.config import MemoryConfig
from memorygraph.facts.keys import PERSONAL_KEYS, SENSITIVE_KEYS, base_key, is_single_valued
from memorygraph.records import Fact, MemoryCandidate, Sensitivity, TrustLevel
from memorygraph.redact import has_personal_data

__all__ = [
    "candidate_for",
    "candidate_id",
    "max_sensitivity",
    "propose",
    "sensitivity_floor",
]

_RANK: dict[Sensitivity, int] = {"none": 0, "personal": 1, "sensitive": 2}
# Words that make a fact sensitive whatever its key.
_SENSITIVE_WORDS = re.compile(
    r"\b(?:allerg\w*|anaphyla\w*|diagnos\w*|medicat\w*|prescri\w*|pregnan\w*|diabet\w*|"
    r"asthma\w*|epilep\w*|cancer|tumou?r|hiv|aids|depress\w*|anxiety|bipolar|schizo\w*|"
    r"ptsd|adhd|autis\w*|disease|disorder|syndrome|therap\w*|surgery|chemo\w*|insulin|"
    r"celiac|coeliac|intoleran\w*|disabilit\w*|religio\w*|sexual\w*|orientation)\b",
    re.IGNORECASE,
)


def max_sensitivity(*levels: Sensitivity) -> Sensitivity:
    """Return the most sensitive of the given levels."""
    return max(levels, key=lambda level: _RANK[level], default="none")


def sensitivity_floor(key: str, value: str) -> Sensitivity:
    """Return the least sensitivity a fact can have, judged from its key and value."""
    base = base_key(key)
    if base in SENSITIVE_KEYS or _SENSITIVE_WORDS.search(f"{key} {value}"):
        return "sensitive"
    # Contact details and identifiers: whatever the audit trace would redact
    # (one detector for both, `memorygraph.redact`).
    if base in PERSONAL_KEYS or has_personal_data(value):
        return "personal"
    return "none"


def candidate_id(fact: Fact) -> str:
    """The candidate id for a fact: stable, so approvals are idempotent."""
    return "cand-" + hashlib.sha256(fact.id.encode("utf-8")).hexdigest()[:16]


def candidate_for(fact: Fact, *, config: MemoryConfig) -> MemoryCandidate:
    """Run the memory-boundary checks on a fact.

    Example:
        >>> from memorygraph.records import Fact
        >>> fact = Fact(id="f1", key="allergy", value="peanuts", scope="user",
        ...             sensitivity="sensitive")
        >>> candidate = candidate_for(fact, config=MemoryConfig())
        >>> candidate.reason
        'sensitive data (allergy) needs consent'
        >>> sorted(candidate.checks)
        ['consent', 'expiry', 'relevance', 'scope', 'sensitivity', 'source', 'stability']
    """
    reasons: list[str] = []
    if fact.sensitivity == "sensitive":
        reasons.append(f"sensitive data ({fact.key}) needs consent")
    elif fact.sensitivity == "personal" and config.approve_personal:
        reasons.append(f"personal data ({fact.key}) needs consent")
    if fact.trust_level is TrustLevel.MODEL_INFERRED:
        reasons.append("inferred by the model, not stated by the user")
    if fact.scope == "tenant":
        reasons.append("it would be shared with the whole tenant")
    stated = fact.trust_level is not TrustLevel.MODEL_INFERRED
    checks = {
        "relevance": f"about the {fact.scope}: useful in later threads ({fact.key})",
        "stability": (
            f"true until {fact.expires_at.date().isoformat()}"
            if fact.expires_at
            else "changes rarely"
            if is_single_valued(fact.key)
            else "stable until corrected"
        ),
        "consent": (
            "needs a human's approval"
            if fact.sensitivity == "sensitive"
            or (fact.sensitivity == "personal" and config.approve_personal)
            or not stated
            else "stated by the user, not sensitive"
        ),
        "sensitivity": fact.sensitivity,
        "source": f"{fact.trust_level.value} in turn {fact.source_turn_id}",
        "expiry": fact.expires_at.isoformat() if fact.expires_at else "none",
        "scope": fact.scope,
    }
    return MemoryCandidate(
        id=candidate_id(fact), fact=fact, checks=checks, reason="; ".join(reasons) or None
    )


def propose(
    facts: Iterable[Fact],
    *,
    fresh: Collection[str],
    durable: Collection[str],
    config: MemoryConfig,
    now: datetime,
) -> list[MemoryCandidate]:
    """Return the candidates among a run's changed facts, in their order.

    A fact is proposed when it is new in this run (or newly stated by the user),
    active, unexpired, about the user or the tenant, and not already durable.

    Args:
        facts: The facts a run changed.
        fresh: Ids of the facts that run made or restated as new evidence.
        durable: Ids of the user's durable facts.
        config: Approval settings.
        now: The time that decides expiry.

    Returns:
        One candidate per proposed fact.
    """
    return [
        candidate_for(fact, config=config)
        for fact in facts
        if fact.id in fresh
        and fact.status == "active"
        and fact.scope in ("user", "tenant")
        and fact.id not in durable
        and not fact.is_expired(now)
    ]
