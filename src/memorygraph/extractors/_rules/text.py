"""Pattern fragments, sentence splitting and value cleaning shared by the rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from memorygraph.extractors.base import Claim, ClaimAction
from memorygraph.records import FactScope, Sensitivity

_IM = r"(?:I'm|I\s+am|Im)"
# A value ends at punctuation or where a new clause starts.
_CLAUSE = (
    r"(?P<v>[^,.;!?\n]+?)(?=\s*(?:[,.;!?\n]|$)|\s+(?:and|but|because|so|which|who|although|"
    r"though|while|when|where|if|since|until)\b)"
)
# A list value runs to the end of the sentence, or to a new clause with its own subject.
_LIST = (
    r"(?P<v>[^.;!?\n]+?)(?=\s*(?:[.;!?\n]|$)|\s+(?:but|because|so|although|though|while|when|"
    r"if|since)\b|,?\s+and\s+(?:I|I'm|I've|my|we|we're|it|it's|you|they)\b)"
)
_REST = r"(?P<v>[^.;!?\n]+)"
_NAME = r"(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2}|[a-z][\w'-]*)"
_CAPITAL_NAME = r"(?P<v>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})"
_SPLIT_LIST = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*")
_TRAILING = re.compile(
    r"\s+(?:anymore|any\s+more|at\s+all|very\s+much|so\s+much|that\s+much|a\s+lot|much|"
    r"too|as\s+well|either|though|now|really|recently|last\s+(?:year|month|week)|"
    r"this\s+(?:year|month|week)|(?:a|one|two|three|\d+)\s+(?:years?|months?|weeks?)\s+ago|"
    r"as\s+of\s+\w+(?:\s+\d{4})?)$",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"it", "that", "this", "them", "you", "him", "her", "these", "those", "one"})
_NOT_VALUES = frozenset(
    {"no", "yes", "ok", "okay", "thanks", "thank you", "sure", "nothing", "never mind"}
)
_NOT_NAMES = frozenset(
    """sorry fine good great back here ready done happy sure not also just still so very really
    tired busy okay ok well glad confused lost hungry english american british german french
    spanish portuguese japanese chinese italian canadian indian brazilian married single vegan
    vegetarian monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december new in on at the a an
    afraid interested curious planning going trying looking working""".split()
)
# People (and pets) "my ..." can introduce. Plural forms are for subjects only.
_RELATION = (
    r"wife|husband|partner|spouse|girlfriend|boyfriend|fianc[eé]e?|son|daughter|mother|mom|"
    r"mum|father|dad|brother|sister|child|kid|baby|grandmother|grandfather|grandma|grandpa|"
    r"grandson|granddaughter|aunt|uncle|cousin|niece|nephew|boss|manager|colleague|coworker|"
    r"co-worker|friend|neighbou?r|roommate|flatmate|housemate|landlord|landlady|teacher|"
    r"doctor|dog|cat"
)
_RELATIONS = (
    r"kids|children|sons|daughters|parents|brothers|sisters|friends|colleagues|grandparents|"
    r"grandchildren|cousins|neighbou?rs|roommates|dogs|cats"
)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    key: str
    sensitivity: Sensitivity = "none"
    scope: FactScope = "user"
    action: ClaimAction = "assert"
    split: bool = False
    job_like: bool = False


def _rule(pattern: str, key: str, **options: object) -> _Rule:
    return _Rule(re.compile(pattern), key, **options)  # type: ignore[arg-type]


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def _sentences(text: str) -> Iterator[str]:
    for part in _SENTENCE_END.split(text.replace("\u2019", "'")):
        part = part.strip()
        if part:
            yield part


def _clean(value: str) -> str:
    value = value.strip().strip("\"'`").strip()
    value = _TRAILING.sub("", value)
    return value.rstrip(" ,.;:!?").strip()


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    claim: Claim
