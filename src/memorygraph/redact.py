"""Redact personal data from text before it reaches the general audit trace.

The general trace (`AuditRecord.redacted_content`, the ``memorygraph.audit``
log) must let an operator debug a package without reading what the user said
about themselves. `redact` replaces secrets (API keys and tokens of a known
shape, private keys, passwords and PINs given after a word that names them),
email addresses, payment card numbers, IBANs, national id numbers and phone
numbers with a label, after normalising the text so that look-alikes match
(fullwidth characters, zero-width characters, no-break spaces, every kind of
dash). It is deliberately greedy: a long order number may be redacted as a card,
which costs a trace some detail, while a missed card number would leak it.

Full, unredacted content goes only to the restricted audit namespace, and only
when ``MemoryConfig(audit_full_content=True)``.

Example:
    >>> redact("Mail ana@example.org or call +351 912 345 678.")
    'Mail [email] or call [phone].'
    >>> redact("Card 4111 1111 1111 1111, SSN 123-45-6789, NINO QQ 12 34 56 C.")
    'Card [card], SSN [national-id], NINO [national-id].'
    >>> redact("key sk-proj-abc123def456ghi789, my password is hunter2")
    'key [secret], my password is [secret]'
    >>> redact("Meet on 2026-06-28 at 10:30 in room 12 (turn f84994ae-1234-4e05-8a11-af360c07).")
    'Meet on 2026-06-28 at 10:30 in room 12 (turn f84994ae-1234-4e05-8a11-af360c07).'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["has_personal_data", "normalize_for_matching", "redact"]

# Before matching, text is normalised so look-alikes match too: NFKC (fullwidth
# "＠" and digits become ASCII, a no-break space a space), invisible format
# characters (zero-width spaces and joiners, soft hyphens, BOM) are dropped,
# every dash (U+2010 to U+2015, U+2212) becomes "-" and every space " ".
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"), "-")

# Every repeat is bounded (a local part has at most 64 characters, a domain label
# 63): an unbounded one makes a long run of letters cost quadratic time.
_EMAIL = re.compile(
    r"(?<![\w.+%-])[\w.+%-]{1,64}\s?@\s?[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE
)
# Secrets with a recognisable shape: OpenAI, Anthropic and other "sk-" keys, AWS
# access key ids, GitHub tokens, Slack tokens, Google API keys, JWTs, bearer
# tokens and PEM private keys.
_SECRET = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{20,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/-]{16,}=*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
# A password, passphrase, PIN or key given after a word that names it: the word
# stays, the value goes ("my password is hunter2" -> "my password is [secret]").
_LABELLED_SECRET = re.compile(
    r"\b(?P<label>pass(?:word|wd|phrase|code)?|pwd|pin(?: code)?|secret(?: key)?|"
    r"api[ _-]?key|access[ _-]?key|private[ _-]?key|token|credentials?)"
    r"(?P<sep>\s+(?:is|was)\s+|\s*[:=]\s*)(?P<value>(?!\[)[^\s,;]{3,})",
    re.IGNORECASE,
)
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
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?\b")
# 13 to 19 digits, optionally grouped by a space, a dash (spaced or not), a dot,
# a slash or an underscore: every card length, however it is written.
_CARD = re.compile(r"(?<![\w-])\d(?:(?: ?[-./_] ?| )?\d){12,18}(?![\w-])")
# A run of digits with phone punctuation (slashes included), and an extension;
# kept only if it has 7 to 15 digits before the extension and is not a date or
# a clock time. Neither it nor a card number may sit inside a word or an id (a
# uuid's digit groups are not a phone number).
_PHONE = re.compile(
    r"(?<![\w+-])\+?\(?\d[\d\s()./-]{5,28}\d(?![\w-])"
    r"(?:\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\b)?",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d{1,6}$", re.IGNORECASE)
_DATE_OR_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
)


def normalize_for_matching(text: str) -> str:
    """The text as `redact` matches it: NFKC, no invisible characters, plain dashes and spaces.

    Example:
        >>> normalize_for_matching("ana\u200b＠example.org 4111\u00a01111\u20111111")
        'ana@example.org 4111 1111-1111'
    """
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(
        " "
        if ch != " " and unicodedata.category(ch) == "Zs"
        else ""
        if unicodedata.category(ch) == "Cf"
        else ch
        for ch in text
    )


def _secret(match: re.Match[str]) -> str:
    return f"{match.group('label')}{match.group('sep')}[secret]"


def _labelled(match: re.Match[str]) -> str:
    return f"{match.group('label')}{match.group('sep')}[national-id]"


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in _EXTENSION.sub("", text))
    if not 7 <= digits <= 15 or _DATE_OR_TIME.fullmatch(text.strip()):
        return text
    return "[phone]"


def redact(text: str) -> str:
    """Return ``text`` with secrets and personal identifiers replaced.

    The text is normalised first (`normalize_for_matching`), so the result is
    the normalised text with each match replaced.

    Args:
        text: Any text.

    Returns:
        The text with each match replaced by ``[secret]`` (API keys and tokens
        of a known shape, private keys, and the value after a word such as
        "password", "PIN" or "API key"), ``[email]``, ``[national-id]``,
        ``[iban]``, ``[card]`` or ``[phone]``.
    """
    text = normalize_for_matching(text)
    text = _SECRET.sub("[secret]", text)
    text = _LABELLED_SECRET.sub(_secret, text)
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
    undated = _DATE_OR_TIME.sub(" ", normalize_for_matching(text))
    return redact(undated) != undated
