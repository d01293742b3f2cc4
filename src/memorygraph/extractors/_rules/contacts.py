"""Contact details: emails and phone numbers the user gives as their own (personal data)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from memorygraph.extractors._rules.text import (
    _RELATION,
    _RELATIONS,
    _Found,
)
from memorygraph.extractors.base import Claim

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}(?![\w-])"
)
_FIRST_PERSON = re.compile(r"(?i:\b(?:my|me|I|I'm|mine)\b)")
_PHONE_CUE = re.compile(r"(?i:\b(?:phone|mobile|cell|number|call|text|whatsapp|reach|tel)\b)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SOMEONE_ELSE = re.compile(rf"(?i:\b(?:my|our)\s+(?:{_RELATION}|{_RELATIONS})\b)")
_OWN_CONTACT = re.compile(
    r"(?i:\bmy\s+(?:e-?mail|phone|number|mobile|cell|contact)\b|\b(?:me|I'm)\s+(?:at|on|via)\b|"
    r"\b(?:reach|contact|call|text)\s+me\b)"
)


class _Owners:
    """Whose contact details a text gives: the user's, or someone "my ..." names."""

    def __init__(self, text: str) -> None:
        self.others = [m.end() for m in _SOMEONE_ELSE.finditer(text)]
        self.own = [m.end() for m in _OWN_CONTACT.finditer(text)]

    def someone_elses(self, at: int) -> bool:
        """Whether the detail at ``at`` is someone else's.

        It is when the nearest cue before it names someone else ("email my boss
        at ..."), or when there is no cue before it and only someone else is named.
        """
        other = self._last_before(self.others, at)
        own = self._last_before(self.own, at)
        if other >= 0 or own >= 0:
            return other > own
        return bool(self.others) and not self.own

    @staticmethod
    def _last_before(ends: list[int], at: int) -> int:
        index = bisect.bisect_right(ends, at)
        return ends[index - 1] if index else -1


def _contacts(text: str, *, source: str, taken: Sequence[_Found]) -> list[_Found]:
    if not _FIRST_PERSON.search(text):
        return []
    found: list[_Found] = []
    owners = _Owners(text)
    for match in _EMAIL.finditer(text):
        if owners.someone_elses(match.start()):
            continue
        claim = Claim(
            key="email",
            value=match.group(0).rstrip("."),
            source_turn_id=source,
            sensitivity="personal",
            scope="user",
        )
        found.append(_Found(match.start(), match.end(), claim))
    if _PHONE_CUE.search(text):
        for match in _PHONE.finditer(text):
            number = match.group(0).strip()
            digits = sum(ch.isdigit() for ch in number)
            inside = any(f.start <= match.start() < f.end for f in (*taken, *found))
            if digits < 7 or digits > 15 or inside or _ISO_DATE.match(number):
                continue
            if owners.someone_elses(match.start()):
                continue
            claim = Claim(
                key="phone",
                value=number,
                source_turn_id=source,
                sensitivity="personal",
                scope="user",
            )
            found.append(_Found(match.start(), match.end(), claim))
    return found
