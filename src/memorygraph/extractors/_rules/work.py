"""Rules about the work at hand, and what the turns say about the task.

Corrections and rejections, decisions, constraints, urgency and findings; the
active task, its step, and entity ids (``case C-1042``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memorygraph.extractors._rules.text import (
    _REST,
    _clip,
    _Rule,
    _rule,
)
from memorygraph.records import Fact

_ENTITY_TYPES = (
    "case|ticket|order|invoice|project|licensee|account|booking|issue|claim|contract|"
    "customer|client|file|request|report|incident|permit|application|policy|shipment"
)
_ENTITY = re.compile(
    rf"(?:\b(?P<type>(?i:{_ENTITY_TYPES}))\s+#?)?\b(?P<id>[A-Z][A-Z0-9]*-\d[\w-]*|#\d{{3,}})"
)
_TASK_END = re.compile(
    r",\s*(?:but\s+|and\s+)?(?:please\s+)?(?:don't|do\s+not|dont|never)\b.*$", re.I
)


# What follows "never", "always" or "don't" when the words are not a rule for
# the assistant: a past or third-person form or no verb at all, the subject
# left out ("never been there", "always puts a smile on my face", "always here
# to help"), a tag question ("don't you think"), and encouragement between
# people ("never give up", "don't be afraid to ask"). A rule is an imperative:
# "never use emoji", "always answer in French", "don't store secrets".
_NOT_A_RULE = (
    r"(?i:(?:ever\s+)?(?:give\s+(?:up|in)|quit|hesitate|lose\s+(?:hope|faith|heart)|"
    r"be\s+(?:afraid|scared|shy)|stop\s+(?:dreaming|believing|trying)|say\s+never|"
    r"miss\s+a\s+beat|let\s+(?:anything|nothing|the\s+bumps))\b|"
    r"(?:been|had|was|were|did|saw|seen|got|went|here|there|up|good|happy|calm|so|too|"
    r"they|you|he|she|it|we|feel\s+like)\b|"
    r"\w{3,}ing\b|(?!(?:\w*eed|embed|shed|shred|wed|bed)\b)\w{2,}ed\b|\w*(?:[^\Wsu]s|es)\b)"
)


# Corrections and rejections said as a pattern; they win over every other rule.
CORRECTION_RULES: tuple[_Rule, ...] = (
    _rule(
        r"(?i:\b(?:please\s+)?(?:don't|do\s+not|dont|never|stop|quit|you\s+shouldn't|"
        r"you\s+should\s+not)\s+(?:assum(?:e|ing)|presum(?:e|ing))(?:\s+that)?)\s+" + _REST,
        "",
        action="reject",
        scope="thread",
    ),
    _rule(r"(?i:\bI\s+never\s+said(?:\s+that)?)\s+" + _REST, "", action="reject", scope="thread"),
    _rule(
        r"(?i:\bnot\s+)(?P<x>[^,.;!?\n]+?),?\s+(?i:but)\s+(?P<v>[^,.;!?\n]+)",
        "",
        action="correct",
        scope="thread",
    ),
    _rule(
        r"(?i:\b(?:it's|it\s+is|it\s+was|I\s+said|I\s+meant|that's|that\s+is)\s+)"
        r"(?P<v>[^,.;!?\n]+?),\s*(?i:not)\s+(?P<x>[^,.;!?\n]+)",
        "",
        action="correct",
        scope="thread",
    ),
)

WORK_RULES: tuple[_Rule, ...] = (
    _rule(
        r"(?i:\b(?:let's|let\s+us|we'll|we\s+will|I'll|I\s+will|we're\s+going\s+to|"
        r"I'm\s+going\s+to)\s+(?:go|stick)\s+with)\s+" + _REST,
        "decision",
        scope="thread",
    ),
    _rule(
        r"(?i:\b(?:we|I)(?:'ve|\s+have)?\s+(?:decided|agreed|settled)(?:\s+to|\s+on|\s+that)?)\s+"
        + _REST,
        "decision",
        scope="thread",
    ),
    _rule(
        r"(?i:\b(?:the\s+)?(?:final\s+)?decision\s+is(?:\s+to|\s+that)?\s+|\bdecision:\s*)" + _REST,
        "decision",
        scope="thread",
    ),
    _rule(
        r"(?i:\blet's\s+)(?P<v>(?i:choose|pick|use|book|take|keep)\s+[^.;!?\n]+)",
        "decision",
        scope="thread",
    ),
    _rule(
        r"(?:^|(?<=[,;:])\s*|(?i:\band\s+))(?P<v>(?i:(?:please\s+)?(?:don't|do\s+not|dont|never|"
        r"must\s+not|you\s+must\s+not|always))\s+(?!(?i:assum|presum|like|love|enjoy|want|know|"
        r"think|have|need|care|mind|worry|understand|remember))"
        r"(?!" + _NOT_A_RULE + r")[^,.;!?\n]+)",
        "constraint",
        scope="thread",
    ),
    _rule(
        r"(?i:\b(?:is|are|it's|it\s+is|makes?\s+it|mark\s+it(?:\s+as)?|marked\s+as|treat\s+it\s+"
        r"as|set\s+it\s+to)\s+)(?P<neg>(?i:not\s+|no\s+longer\s+))?(?P<v>(?i:urgent|"
        r"high[-\s]priority|low[-\s]priority|critical|non-urgent|time-sensitive))\b",
        "urgency",
        scope="thread",
    ),
    _rule(
        r"(?i:\b(?:new\s+evidence\s+(?:shows|suggests|confirms|proves)|the\s+(?:evidence|report|"
        r"inspection(?:\s+report)?|records?|logs?)\s+(?:shows?|confirms?|proves?)|it\s+turns\s+out|"
        r"turns\s+out|it(?:'s|\s+is|\s+has\s+been)\s+confirmed|we\s+(?:now\s+)?know|"
        r"we\s+confirmed)(?:\s+that)?[:,]?\s+)" + _REST,
        "finding",
        scope="thread",
    ),
)

_CORRECTION = re.compile(
    r"^(?:(?i:oh|oops|hmm|wait|sorry|um|uh|no|nope)[,!.]?\s+)*(?i:actually|correction|"
    r"to\s+correct\s+myself|scratch\s+that|I\s+misspoke|(?:no,?\s+)?I\s+meant(?:\s+to\s+say)?|"
    r"I\s+mean)\b[,:!.]?\s*(?:(?i:no|nope)\b[,.:!]?\s*)?(?P<rest>.*)$",
    re.DOTALL,
)
_WRONG = re.compile(
    r"^(?:(?i:no|nope)[,.!]?\s+)?(?i:that's|that\s+is|this\s+is|that\s+was|you're|you\s+are)"
    r"\s+(?i:wrong|not\s+true|not\s+right|incorrect|false|not\s+correct|mistaken)\b"
    r"[,.!:;]?\s*(?P<rest>.*)$",
    re.DOTALL,
)
_ASSUMPTION = re.compile(
    r"(?i:\b(?:I'll|I\s+will|I'm\s+going\s+to|let\s+me|I)\s+assume(?:\s+that)?|\bassuming"
    r"(?:\s+that)?|\bI\s+take\s+it(?:\s+that)?|\bpresumably,?|\bI\s+(?:guess|suppose|presume)"
    r"(?:\s+that)?)\s+(?P<v>[^,.;!?\n]+)"
)
_LEAD = r"^(?:(?i:ok(?:ay)?|so|now|alright|right|great|good|then|well)[,!.]?\s+)*"
_TASK = re.compile(
    _LEAD + r"(?:(?i:let's|let\s+us)\s+(?P<a>(?i:work\s+on|plan|start(?:\s+on)?|move\s+on\s+to|"
    r"switch\s+to|focus\s+on|look\s+at|tackle|prepare|draft|write|review)\s+.+)|"
    r"(?i:help\s+me(?:\s+with)?|I\s+need\s+(?:your\s+)?help\s+with|I\s+need\s+you\s+to|can\s+you"
    r"\s+help\s+me(?:\s+with)?|please\s+help\s+me(?:\s+with)?|I\s+want\s+to|I(?:'d|\s+would)\s+"
    r"like\s+to|I\s+need\s+to|we\s+need\s+to|new\s+task:|task:|next\s+task:)\s+(?P<b>.+))$",
    re.DOTALL,
)
_STEP = re.compile(
    r"^(?i:first|next|then|after\s+that|now|finally|step\s+\d+|second|third)[,:]?\s+"
    r"(?:(?i:let's|let\s+us|we\s+(?:should|will|need\s+to)|I\s+(?:want|need)\s+to)\s+)?"
    r"(?P<v>.+)$",
    re.DOTALL,
)
_IMPERATIVE = re.compile(
    r"^(?:(?i:ok(?:ay)?|so|now|then|alright|please|just)[,!.]?\s+)*(?P<v>(?i:summari[sz]e|"
    r"escalate|draft|write|review|analy[sz]e|compare|book|prepare|create|build|fix|investigate|"
    r"translate|schedule|plan|update|research|organi[sz]e|outline|calculate|estimate|assess|"
    r"audit|check|verify|find|reserve|order|cancel|close|send|file|submit|remove|delete)\b.*)$",
    re.DOTALL,
)
_BACK_REFERENCE = re.compile(
    r"(?i:\b(?:it|that|this|them|the\s+(?:first|second|third|fourth|fifth|last|other)"
    r"(?:\s+\w+)?|again|same\s+as\s+before)\b)"
)


def _add_entities(entities: dict[str, str], text: str) -> None:
    """Add the entity ids a text mentions, named by their type when it says one."""
    for match in _ENTITY.finditer(text):
        kind, ident = match["type"], match["id"]
        named = [name for name, value in entities.items() if value == ident]
        if kind:
            for name in named:
                if name == ident:
                    del entities[name]  # "case C-1042" is a better name than "C-1042"
            entities[f"{kind.casefold()} {ident}"] = ident
        elif not named:
            entities[ident] = ident


def _subject_for(key: str, text: str, existing: Sequence[Fact]) -> str:
    entity = _ENTITY.search(text)
    if entity:
        return entity["id"]
    for fact in reversed(existing):
        if fact.key == key and fact.status == "active":
            return fact.subject
    return "task"


def _task_and_step(sentence: str) -> tuple[str | None, str | None]:
    text = _TASK_END.sub("", sentence.rstrip(" .!?;"))
    if task := _TASK.match(text):
        return _clip(task["a"] or task["b"], 120), None
    if step := _STEP.match(text):
        return None, _clip(step["v"], 120)
    if imperative := _IMPERATIVE.match(text):
        if _BACK_REFERENCE.search(imperative["v"]):
            return None, _clip(imperative["v"], 120)
        return _clip(imperative["v"], 120), None
    return None, None
