"""Redact personal data from text before it reaches the general audit trace.

The general trace (`AuditRecord.redacted_content`, the ``memorygraph.audit``
log) must let an operator debug a package without reading what the user said
about themselves (seed 003, sections 26 and 27). `redact` replaces email
addresses, payment card numbers, national id numbers and phone numbers with a
label. It is deliberately greedy: a long order number may be redacted as a card,
which costs a trace some detail, while a missed card number would leak it.

Full, unredacted content goes only to the restricted audit namespace, and only
when ``MemoryConfig(audit_full_content=True)``.

Example:
    >>> redact("Mail ana@example.org or call +351 912 345 678.")
    'Mail [email] or call [phone].'
    >>> redact("Card 4111 1111 1111 1111, SSN 123-45-6789, NINO QQ 12 34 56 C.")
    'Card [card], SSN [national-id], NINO [national-id].'
    >>> redact("Meet on 2026-06-28 at 10:30 in room 12 (turn f84994ae-1234-4e05-8a11-af360c07).")
    'Meet on 2026-06-28 at 10:30 in room 12 (turn f84994ae-1234-4e05-8a11-af360c07).'
"""

from __future__ import annotations

import re

__all__ = ["has_personal_data", "redact"]

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# National ids with a recognisable shape: US SSN, UK National Insurance number,
# Spanish DNI/NIE.
_NATIONAL_ID = re.compile(
    r"\b\d{3}-\d{2}-\d{4}\b"
    r"|\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"
    r"|\b[XYZ]?\d{7,8}-?[A-Z]\b",
    re.IGNORECASE,
)
# Any other id introduced by a label that names it: the label stays, the value goes.
_LABELLED_ID = re.compile(
    r"\b(?P<label>ssn|social security(?: number)?|national id(?:entity)?(?: number)?|"
    r"passport(?: number| no\.?)?|tax id|nif|nie|dni|nino|bsn|pesel|aadhaar)"
    r"(?P<sep>(?:\s+is)?[\s:#.-]*)(?P<value>[A-Z0-9][A-Z0-9 -]{3,}[A-Z0-9])\b",
    re.IGNORECASE,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# 13 to 19 digits, optionally grouped by single spaces or dashes: every card length.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# A run of digits with phone punctuation; kept only if it has 7 to 15 digits and
# is not a date or a clock time. Neither it nor a card number may sit inside a
# word or an id (a uuid's digit groups are not a phone number).
_PHONE = re.compile(r"(?<![\w+-])\+?\(?\d[\d\s().-]{5,}\d(?![\w-])")
_DATE_OR_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
)


def _labelled(match: re.Match[str]) -> str:
    return f"{match.group('label')}{match.group('sep')}[national-id]"


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _DATE_OR_TIME.fullmatch(text.strip()):
        return text
    return "[phone]"


def redact(text: str) -> str:
    """Return ``text`` with emails, card numbers, national ids and phone numbers replaced.

    Args:
        text: Any text.

    Returns:
        The text with each match replaced by ``[email]``, ``[card]``,
        ``[national-id]``, ``[iban]`` or ``[phone]``.
    """
    text = _EMAIL.sub("[email]", text)
    text = _LABELLED_ID.sub(_labelled, text)
    text = _NATIONAL_ID.sub("[national-id]", text)
    text = _IBAN.sub("[iban]", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub(_phone, text)


def has_personal_data(text: str) -> bool:
    """Whether ``text`` holds what `redact` replaces, dates and clock times aside.

    The extractors mark such facts ``personal`` (`sensitivity_floor`), so the
    rule that decides what the audit trace hides also decides what needs consent.

    Example:
        >>> has_personal_data("call me on +351 912 345 678"), has_personal_data("2024-03-01 10:00")
        (True, False)
        >>> has_personal_data("ticket MKc2d71886057e")  # digits inside an id
        False
    """
    undated = _DATE_OR_TIME.sub(" ", text)
    return redact(undated) != undated
