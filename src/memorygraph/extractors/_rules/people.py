"""Other people ("my wife Ana is allergic to nuts"), and retractions ("I no longer ...")."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from datetime import datetime

from memorygraph.extractors._rules.matching import _match_rules
from memorygraph.extractors._rules.text import (
    _IM,
    _NOT_NAMES,
    _RELATION,
    _RELATIONS,
    _clean,
    _clip,
    _Found,
)
from memorygraph.extractors.base import Claim
from memorygraph.records import Fact

# "my wife Ana is allergic to nuts", "my boss's email is ...": the words after the
# person are read as if the person had said them ("I'm allergic to nuts"), and the
# claims get the person as their subject. Which words count as the person's:
_THIRD_PARTY = re.compile(
    rf"\b(?i:my)\s+(?:(?P<rel>(?i:{_RELATION}))|(?P<rels>(?i:{_RELATIONS})))"
    r"(?:(?P<poss>'s)(?=\s)|,?\s+(?P<name>[A-Z][a-z-]+(?:'[A-Z][a-z-]+)?)(?=,?\s|'s\s),?)?"
    r"(?P<contraction>'s(?=\s))?\s+"
)
_NAME_WORD = re.compile(r"(?i:name\b)")
_NAMED = re.compile(r"\s+(?:[A-Z]|(?i:called|named)\b)")
_ADVERB = r"(?:(?:also|really|still|now|currently|just|recently|absolutely|usually)\s+)?"
_THIRD_VERB = re.compile(
    rf"(?i:{_ADVERB}(?P<verb>isn't|is\s+not|aren't|are\s+not|is|are|was|were|has|have|"
    r"doesn't|does\s+not|don't|do\s+not|no\s+longer|never|can't|cannot|moved|"
    r"(?:live|work|like|love|enjoy|adore|hate|dislike|detest|prefer|take|suffer|eat|drink|"
    r"smoke|own|speak|come)s?)\b)"
)
# (subject, verb) as the person would say it; an adverb goes between them.
_FIRST_PERSON_VERB = {
    "is": ("I'm", ""),
    "are": ("I'm", ""),
    "was": ("I", "was"),
    "were": ("I", "was"),
    "has": ("I", "have"),
    "have": ("I", "have"),
    "isn't": ("I'm", "not"),
    "is not": ("I'm", "not"),
    "aren't": ("I'm", "not"),
    "are not": ("I'm", "not"),
    "doesn't": ("I", "don't"),
    "does not": ("I", "don't"),
}
# Where the person's clause ends: at the end of the sentence, or where a new
# clause with its own subject starts. (One whitespace before a word, not "\s+": a
# run of blanks, which masking leaves, must not be rescanned from every position.)
_CLAUSE_END = re.compile(
    r"[.;!?](?=\s|$)|\n|(?:,?\s(?:and|but|or)\s+|,[ \t]*)"
    r"(?=(?:I|I'm|I've|I'd|my|we|we're|you|it|it's)\b)|"
    r"\s(?i:because|so|although|though|while|since|whereas)\b"
)
# "I no longer live in Paris", "I don't eat meat anymore", "I'm not vegan any more".
_RETRACTION = re.compile(
    rf"\b(?:(?P<i>I)\s+(?P<neg>(?i:no\s+longer|don't|do\s+not|dont))|(?P<im>{_IM})\s+"
    r"(?P<neg_im>(?i:no\s+longer|not)))\s+"
)
_ANYMORE = re.compile(r"\s+(?i:anymore|any\s+more|any\s+longer)$")
# Likes and loves have their opposite (dislikes), which supersedes them already;
# "I don't know/care/think ... anymore" says how the user feels, not a fact.
_TASTE_VERB = re.compile(
    r"^(?i:(?:really\s+|just\s+)?(?:like|love|enjoy|adore|stand|bear|mind|care|know|think|"
    r"want|need|remember|understand)\b)"
)
# Without a rule that names the key, only these habits are retracted as said.
_HABIT_VERB = re.compile(
    r"^(?i:(?:smoke|vape|drink|drive)$|(?:eat|drink|smoke|vape|drive|own|play|watch|cook|"
    r"practi[cs]e|speak|wear|take|use)\s+"
    r"(?!(?:it|that|this|them|those|these|there|anything|much|any)\b)\S)"
)


def _in_first_person(verb: re.Match[str], rest: str) -> str:
    """Say "is allergic to nuts" (after "my wife") as "I'm allergic to nuts"."""
    said = " ".join(verb["verb"].casefold().split())
    adverb = rest[: verb.start("verb")]
    after = rest[verb.end() :].lstrip()
    subject, plain = _FIRST_PERSON_VERB.get(said, ("I", said))
    if said in ("no longer", "never", "can't", "cannot"):
        # "no longer works at": the verb after the negation is the one to change.
        following = _THIRD_VERB.match(after)
        if following is not None and following.start("verb") == 0:
            said_next = _in_first_person(following, after).removeprefix("I ")
            return f"I {adverb}{said} {said_next}"
    elif said not in _FIRST_PERSON_VERB and said.endswith("s") and said != "moved":
        plain = said[:-1]
    return " ".join(f"{subject} {adverb}{plain} {after}".split())


class _Clauses:
    """Where the clauses of a text end, found once (so long texts stay linear)."""

    def __init__(self, text: str) -> None:
        self.ends = [m.start() for m in _CLAUSE_END.finditer(text)]
        self.length = len(text)

    def end(self, start: int) -> int:
        index = bisect.bisect_left(self.ends, start)
        return self.ends[index] if index < len(self.ends) else self.length


def _masked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with the given spans blanked out (offsets unchanged)."""
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for start, end in spans:
        parts += [text[at:start], " " * (end - start)]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _person(
    match: re.Match[str], relations: dict[str, str], existing: Sequence[Fact]
) -> tuple[str, str]:
    """Return (relation, subject) for a "my <relation> [Name]" match."""
    relation = (match["rel"] or match["rels"]).casefold()
    if match["name"]:
        return relation, match["name"]
    if relation in relations:
        return relation, relations[relation]
    for fact in reversed(existing):
        if fact.key == f"family:{relation}" and fact.subject == "user" and fact.status == "active":
            return relation, fact.value
    return relation, f"user's {relation}"


def _third_parties(
    text: str,
    *,
    source: str,
    existing: Sequence[Fact],
    now: datetime,
    relations: dict[str, str],
) -> tuple[list[_Found], str]:
    """Claims about the people "my ..." introduces, and the text with their clauses masked."""
    found: list[_Found] = []
    spans: list[tuple[int, int]] = []
    clauses = _Clauses(text)
    for match in _THIRD_PARTY.finditer(text):
        if spans and match.start() < spans[-1][1]:
            continue  # inside a clause already read as someone else's
        rest_start = match.end()
        end = clauses.end(rest_start)
        relation, subject = _person(match, relations, existing)
        if match["name"] and match["rel"] and match["name"].casefold() not in _NOT_NAMES:
            family = Claim(
                key=f"family:{relation}",
                value=match["name"],
                source_turn_id=source,
                sensitivity="personal",
                scope="user",
            )
            found.append(_Found(match.start(), match.end(), family))
        readings: list[str] = []
        if match["poss"]:
            if _NAME_WORD.match(text, rest_start, end):
                continue  # "my boss's name is Tom": the family rule's
            rest = text[rest_start:end]
            readings = [f"my {rest}", f"I'm {rest}"]
        elif match["contraction"]:
            readings = [f"I'm {text[rest_start:end]}"]
        elif verb := _THIRD_VERB.match(text, rest_start, end):
            if verb["verb"].casefold() in ("is", "are", "was") and _NAMED.match(
                text, verb.end(), end
            ):
                continue  # "my wife is Ana", "is called Ana": the family rule's
            rest = text[rest_start:end]
            said = _THIRD_VERB.match(rest)
            readings = [_in_first_person(said, rest)] if said else []
        else:
            continue
        for reading in readings:
            claims = [
                f.claim.model_copy(update={"subject": subject})
                for f in _retractions_and_rules(reading, source=source, existing=existing, now=now)
                if (f.claim.scope == "user" or f.claim.action == "retract")
                and f.claim.key not in ("name", "preferred_name")
            ]
            if claims:
                found += [_Found(match.start(), end, claim) for claim in claims]
                break
        spans.append((match.start(), end))
    return found, _masked(text, spans)


def _retractions(
    text: str, *, source: str, existing: Sequence[Fact], now: datetime
) -> tuple[list[_Found], str]:
    """Claims that something stopped being true, and the text with their clauses masked."""
    found: list[_Found] = []
    spans: list[tuple[int, int]] = []
    clauses = _Clauses(text)
    read_to = 0
    for match in _RETRACTION.finditer(text):
        if match.start() < read_to:
            continue
        end = read_to = clauses.end(match.end())
        clause = text[match.end() : end].strip()
        negation = " ".join((match["neg"] or match["neg_im"]).casefold().split())
        bare = _ANYMORE.sub("", clause)
        if negation != "no longer" and bare == clause:
            continue  # "I don't live in Paris" denies; "... anymore" retracts
        if not bare or (match["i"] and _TASTE_VERB.match(bare)):
            continue
        positive = ("I " if match["i"] else "I'm ") + bare
        claims = [
            f.claim
            for f in _match_rules(positive, source=source, existing=existing, now=now)
            if f.claim.key is not None and f.claim.action in ("assert", "correct")
        ]
        if not claims and match["i"] and _HABIT_VERB.match(bare):
            claims = [Claim(key=None, value=_clip(_clean(bare)), source_turn_id=source)]
        if not claims:
            continue
        found += [
            _Found(
                match.start(),
                end,
                claim.model_copy(
                    update={"action": "retract", "scope": "thread", "expires_at": None}
                ),
            )
            for claim in claims
        ]
        spans.append((match.start(), end))
    return found, _masked(text, spans)


def _retractions_and_rules(
    text: str, *, source: str, existing: Sequence[Fact], now: datetime
) -> list[_Found]:
    retracted, masked = _retractions(text, source=source, existing=existing, now=now)
    found = retracted + _match_rules(masked, source=source, existing=existing, now=now)
    return sorted(found, key=lambda f: f.start)


def _match_sentence(
    text: str,
    *,
    source: str,
    existing: Sequence[Fact],
    now: datetime,
    relations: dict[str, str],
) -> list[_Found]:
    """All claims of one sentence: other people's first, then retractions, then the rules."""
    others, masked = _third_parties(
        text, source=source, existing=existing, now=now, relations=relations
    )
    found = others + _retractions_and_rules(masked, source=source, existing=existing, now=now)
    return sorted(found, key=lambda f: f.start)
