"""The rules in order, and the claims one match gives."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from memorygraph.extractors._dates import plan_expiry
from memorygraph.extractors._rules.contacts import _contacts
from memorygraph.extractors._rules.health import HEALTH_RULES
from memorygraph.extractors._rules.personal import PERSONAL_RULES, _job_like
from memorygraph.extractors._rules.text import (
    _NOT_NAMES,
    _PRONOUNS,
    _SPLIT_LIST,
    _clean,
    _clip,
    _Found,
    _Rule,
)
from memorygraph.extractors._rules.work import CORRECTION_RULES, WORK_RULES, _subject_for
from memorygraph.extractors.base import Claim
from memorygraph.facts.keys import normalize
from memorygraph.records import Fact

# Earlier rules win where two matches overlap.
_RULES: tuple[_Rule, ...] = (*CORRECTION_RULES, *PERSONAL_RULES, *HEALTH_RULES, *WORK_RULES)


def _match_rules(
    text: str, *, source: str, existing: Sequence[Fact], now: datetime
) -> list[_Found]:
    found: list[_Found] = []
    for rule in _RULES:
        for match in rule.pattern.finditer(text):
            if any(match.start() < f.end and f.start < match.end() for f in found):
                continue
            found += [
                _Found(match.start(), match.end(), claim)
                for claim in _claims(rule, match, text, source=source, existing=existing, now=now)
            ]
    found += _contacts(text, source=source, taken=found)
    return sorted(found, key=lambda f: f.start)


def _claims(
    rule: _Rule,
    match: re.Match[str],
    text: str,
    *,
    source: str,
    existing: Sequence[Fact],
    now: datetime,
) -> list[Claim]:
    groups = match.groupdict()
    raw = _clean(match["v"])
    if not raw:
        return []
    values = [_clean(v) for v in _SPLIT_LIST.split(raw)] if rule.split else [raw]
    values = [v.removeprefix("to ").strip() for v in values if v]
    values = [v for v in values if v and v.casefold() not in _PRONOUNS]
    key: str | None = rule.key or None
    subject = "user"
    expires = None
    if rule.job_like:
        values = [v for v in values if _job_like(v)]
    if rule.key == "name" and raw.casefold() in _NOT_NAMES:
        return []
    if rule.key in ("name", "preferred_name") and raw.casefold().endswith("'s"):
        return []  # "It's Tom's": someone else's
    if rule.key == "family" and groups.get("what") and raw.casefold() in _NOT_NAMES:
        return []  # "my wife is Portuguese" names no one
    if rule.key in ("name", "preferred_name") and raw.islower():
        values = [raw.title()]
    if rule.key == "favourite":
        key = "favourite_" + "_".join(normalize(groups["what"]).split())
    if rule.key == "family" and groups.get("what"):
        key = f"family:{groups['what'].casefold()}"
    if rule.key == "urgency":
        values = [("not " if groups.get("neg") else "") + raw.casefold()]
        subject = _subject_for("urgency", text, existing)
    if rule.key == "plan":
        expires = plan_expiry(raw, now)
    previous = _clean(groups["x"]) if groups.get("x") else None
    return [
        Claim(
            action=rule.action,
            key=key,
            value=_clip(value),
            subject=subject,
            previous=previous,
            source_turn_id=source,
            sensitivity=rule.sensitivity,
            scope=rule.scope,
            expires_at=expires,
        )
        for value in values
    ]
