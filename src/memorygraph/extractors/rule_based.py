"""`RuleBasedExtractor`: the offline, deterministic fact extractor.

It reads what users say about themselves and their work, sentence by sentence,
with patterns that favour precision over recall:

* names ("my name is", "call me", "Hi, I'm Ana"), likes, dislikes, preferences
  and favourites, diet;
* where someone lives, is from, or works; their occupation;
* family and relations, plans with dates (the date sets the fact's expiry);
* contact details (emails and phone numbers: personal data);
* health and allergies (sensitive data);
* decisions ("let's go with", "we decided"), constraints ("don't change the
  case status"), urgency, findings ("new evidence shows ...");
* corrections ("actually ...", "no, I meant ...", "not X but Y", "I moved to"),
  rejections ("don't assume ...", "that's wrong");
* the active task and its step, and entity ids (``case C-1042``);
* assumptions an assistant turn states ("I'll assume ..."), as model-inferred.

What users say is ``user_claimed`` whatever the words claim; the reconciler in
`memorygraph.facts.reconcile` enforces that for every extractor.

Example:
    >>> from datetime import UTC, datetime
    >>> from langchain_core.messages import HumanMessage
    >>> turn = HumanMessage("Hi! My name is Ana and I live in Lisbon. I'm allergic to peanuts.",
    ...                     id="h1")
    >>> found = RuleBasedExtractor().extract([turn], existing=[], now=datetime.now(UTC))
    >>> [(c.key, c.value, c.sensitivity) for c in found.claims]
    [('name', 'Ana', 'none'), ('lives_in', 'Lisbon', 'none'), ('allergy', 'peanuts', 'sensitive')]
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from langchain_core.messages import BaseMessage

from memorygraph._turns import message_id, message_text
from memorygraph.extractors._dates import plan_expiry
from memorygraph.extractors.base import Claim, ClaimAction, Extraction
from memorygraph.facts.keys import normalize
from memorygraph.records import Fact, FactScope, Sensitivity, TrustLevel

__all__ = ["RuleBasedExtractor"]

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
_ENTITY_TYPES = (
    "case|ticket|order|invoice|project|licensee|account|booking|issue|claim|contract|"
    "customer|client|file|request|report|incident|permit|application|policy|shipment"
)
_ENTITY = re.compile(
    rf"(?:\b(?P<type>(?i:{_ENTITY_TYPES}))\s+#?)?\b(?P<id>[A-Z][A-Z0-9]*-\d[\w-]*|#\d{{3,}})"
)
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
_TASK_END = re.compile(
    r",\s*(?:but\s+|and\s+)?(?:please\s+)?(?:don't|do\s+not|dont|never)\b.*$", re.I
)
_NOT_NAMES = frozenset(
    """sorry fine good great back here ready done happy sure not also just still so very really
    tired busy okay ok well glad confused lost hungry english american british german french
    spanish portuguese japanese chinese italian canadian indian brazilian married single vegan
    vegetarian monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december new in on at the a an
    afraid interested curious planning going trying looking working""".split()
)
_JOBS = re.compile(
    r"(?:er|or|ist|ian|ant|ent|eer|ect|nurse|chef|cook|student|clerk|pilot|coach|judge|"
    r"attorney|vet|medic|surgeon|professor|tutor|officer|analyst|consultant|agent|"
    r"inspector|assistant|intern|founder|ceo|cto|cfo|programmer|freelancer)$",
    re.IGNORECASE,
)
_NOT_JOBS = frozenset(
    """beginner fan newcomer member user customer owner number person other player lover
    speaker reader learner starter sucker stranger foreigner winner loser sinner believer
    follower viewer listener newbie expert vegetarian vegan pescatarian""".split()
)
_SINGLE_RELATIONS = frozenset(
    {"wife", "husband", "partner", "spouse", "girlfriend", "boyfriend", "boss", "manager"}
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


# Earlier rules win where two matches overlap.
_RULES: tuple[_Rule, ...] = (
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
    _rule(r"(?i:\bmy\s+name\s+is|\bmy\s+name's)\s+" + _NAME, "name"),
    _rule(r"(?i:\bcall\s+me)\s+" + _CAPITAL_NAME, "preferred_name"),
    _rule(
        r"(?:^|(?i:\b(?:hi|hello|hey)(?:\s+again|\s+there)?[,!.]?\s+))"
        r"(?i:I'm|I\s+am|this\s+is|it's)\s+(?P<v>[A-Z][a-z'-]+)"
        r"(?=\s*(?:[,.!?]|$)|\s+(?:and|here|from|again|by)\b)"
        # "This is Tom, my boss.": an introduction of someone else.
        rf"(?!,?\s+(?i:my|our)\s+(?:{_RELATION}|{_RELATIONS})\b(?!'s))",
        "name",
    ),
    _rule(
        rf"(?i:\bI\s+(?:currently\s+|now\s+|still\s+)?(?:live|reside)|\b{_IM}\s+(?:currently\s+|"
        r"now\s+)?(?:living|based|staying|located))\s+(?i:in|at)\s+" + _CLAUSE,
        "lives_in",
    ),
    _rule(
        r"(?i:\bI(?:'ve|\s+have)?\s+(?:just\s+|recently\s+)?moved\s+to)\s+" + _CLAUSE,
        "lives_in",
        action="correct",
    ),
    _rule(rf"(?i:\b{_IM}\s+(?:originally\s+)?from)\s+" + _CLAUSE, "from"),
    _rule(r"(?i:\bmy\s+(?:home\s+)?address\s+is)\s+" + _REST, "address", sensitivity="personal"),
    _rule(
        r"(?i:\b(?:I|and)\s+(?:currently\s+|now\s+|still\s+)?work\s+(?:at|for))\s+" + _CLAUSE,
        "works_at",
    ),
    _rule(r"(?i:\bI\s+work\s+as)\s+(?:(?i:an?)\s+)?" + _CLAUSE, "occupation"),
    _rule(
        r"(?i:\bmy\s+(?:job|occupation|profession|role|job\s+title)\s+is)\s+(?:(?i:an?)\s+)?"
        + _CLAUSE,
        "occupation",
    ),
    _rule(
        rf"(?i:\b{_IM}\s+an?\s+)(?P<v>[\w-]+(?:\s+[\w-]+){{0,2}}?)"
        r"(?=\s*(?:[,.;!?\n]|$)|\s+(?:at|for|in|and|by|with|who|from|but)\b)",
        "occupation",
        job_like=True,
    ),
    _rule(
        r"(?i:\bI\s+(?:really\s+|just\s+|absolutely\s+|truly\s+)?(?:don't|do\s+not|dont|"
        r"no\s+longer|can't|cannot)\s+(?:really\s+)?(?:like|enjoy|love|stand|bear)|\bI\s+"
        r"(?:really\s+|absolutely\s+|truly\s+)?(?:hate|dislike|detest|loathe|despise))\s+" + _LIST,
        "dislikes",
        split=True,
    ),
    _rule(
        r"(?i:\bI\s+(?:really\s+|also\s+|absolutely\s+|truly\s+|do\s+|still\s+|now\s+)?"
        rf"(?:like|love|enjoy|adore)|\b{_IM}\s+(?:a\s+(?:big\s+|huge\s+)?fan\s+of|into|"
        r"fond\s+of|passionate\s+about))\s+" + _LIST,
        "likes",
        split=True,
    ),
    _rule(
        r"(?i:\bI\s+(?:would\s+|'d\s+|really\s+|generally\s+|usually\s+|now\s+)?prefer|"
        r"\bI(?:'d|\s+would)\s+rather)\s+" + _REST,
        "preference",
    ),
    _rule(
        r"(?i:\bmy\s+(?:new\s+)?favou?rite\s+)(?P<what>(?i:[a-z]+(?:\s+[a-z]+)?))"
        r"(?i:\s+(?:is|are)(?:\s+now)?)\s+" + _CLAUSE,
        "favourite",
    ),
    _rule(
        rf"(?i:\b{_IM}\s+(?:a\s+)?(?:strict\s+)?)(?P<v>(?i:vegetarian|vegan|pescatarian))\b",
        "diet",
    ),
    _rule(
        rf"(?i:\bmy\s+)(?P<what>(?i:{_RELATION}))\b"
        r"(?i:'s\s+name\s+is|'s\s+name's|\s+is\s+called|\s+is\s+named|\s+is)\s+"
        r"(?P<v>[A-Z][\w-]*(?:'[A-Z][\w-]*)?)",
        "family",
        sensitivity="personal",
    ),
    _rule(
        r"(?i:\bI\s+have\s+)(?P<v>(?i:(?:a|an|one|two|three|four|five|six|\d+)\s+(?:kids?|"
        r"children|sons?|daughters?|brothers?|sisters?|siblings?|grandchildren|grandkids?)))\b",
        "family",
        sensitivity="personal",
    ),
    _rule(
        rf"(?i:\b{_IM}\s+)(?P<v>(?i:married|divorced|single|widowed|engaged))(?![\w-])",
        "marital_status",
        sensitivity="personal",
    ),
    _rule(rf"(?i:\b{_IM}\s+planning\s+)" + _REST, "plan"),
    _rule(
        rf"(?i:\b{_IM}\s+)(?P<v>(?i:flying|travel(?:l)?ing|heading|moving|going)\s+to\s+"
        r"[A-Z][^.;!?\n]*)",
        "plan",
    ),
    _rule(
        r"(?i:\b(?:I\s+have|I've\s+got)\s+(?:an?\s+)?)(?P<v>(?i:(?:\w+\s+)?(?:trip|meeting|"
        r"appointment|flight|exam|interview|deadline|conference|wedding|surgery|holiday|"
        r"vacation))\s+(?i:on|in|at|next|this|tomorrow|today)\b[^.;!?\n]*)",
        "plan",
    ),
    _rule(
        r"(?i:\bmy\s+)(?P<v>(?i:(?:\w+\s+)?(?:trip|flight|meeting|appointment|exam|interview|"
        r"deadline|wedding|vacation|holiday|surgery))\s+(?i:is|starts|begins)\s+(?i:on|in|at|"
        r"next|this|tomorrow|today)\b[^.;!?\n]*)",
        "plan",
    ),
    _rule(
        rf"(?i:\b{_IM}\s+(?:severely\s+|very\s+|mildly\s+|highly\s+|deathly\s+|also\s+)?"
        r"allergic\s+to)\s+" + _LIST,
        "allergy",
        sensitivity="sensitive",
        split=True,
    ),
    _rule(
        r"(?i:\bI\s+have\s+(?:an?\s+|a\s+severe\s+|severe\s+)?)(?P<v>[\w-]+(?:\s+[\w-]+)?)\s+"
        r"(?i:allergy|allergies|intolerance)\b",
        "allergy",
        sensitivity="sensitive",
    ),
    _rule(
        r"(?i:\bmy\s+allerg(?:y|ies)\s+(?:is|are|include|includes)\s+)" + _LIST,
        "allergy",
        sensitivity="sensitive",
        split=True,
    ),
    _rule(
        r"(?i:\bI\s+(?:have|suffer\s+from|was\s+diagnosed\s+with|am\s+being\s+treated\s+for|"
        r"live\s+with|'ve\s+got|have\s+got)\s+)(?P<v>(?i:(?:type\s+[12]\s+)?diabetes|asthma|"
        r"epilepsy|cancer|depression|anxiety|adhd|autism|hiv|hypertension|high\s+blood\s+"
        r"pressure|arthritis|migraines?|celiac\s+disease|coeliac\s+disease|a\s+heart\s+"
        r"condition|heart\s+disease|long\s+covid|copd|ptsd|bipolar\s+disorder|"
        r"[a-z-]+\s+(?:disease|disorder|syndrome)))\b",
        "health",
        sensitivity="sensitive",
    ),
    _rule(
        rf"(?i:\b{_IM}\s+)(?P<v>(?i:pregnant|diabetic|asthmatic|epileptic|celiac|coeliac|"
        r"lactose\s+intolerant|gluten\s+intolerant|deaf|blind|disabled|hiv\s+positive))(?![\w-])",
        "health",
        sensitivity="sensitive",
    ),
    _rule(
        r"(?i:\bI\s+(?:take|am\s+taking|'m\s+taking)\s+)(?P<v>[\w-]+(?:\s+[\w-]+)?)\s+"
        r"(?i:for|every|daily|twice|medication|pills?|tablets?)\b",
        "medication",
        sensitivity="sensitive",
    ),
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
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


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


def _job_like(value: str) -> bool:
    last = value.split()[-1].casefold() if value.split() else ""
    return bool(_JOBS.search(last)) and last not in _NOT_JOBS and value.casefold() not in _NOT_JOBS


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    claim: Claim


class RuleBasedExtractor:
    """Extract facts, corrections, rejections and the task with patterns; no network.

    Deterministic: the same turns always give the same claims, in order.
    """

    def extract(
        self, turns: Sequence[BaseMessage], *, existing: Sequence[Fact], now: datetime
    ) -> Extraction:
        """Return the claims made by ``turns``, with the task, step and entities they name.

        Args:
            turns: The new turns. Human turns (and system messages found in the
                history, which any caller can send) are read as the user's words;
                assistant turns only for the assumptions they state.
            existing: Facts already known; a vague subject ("it") takes the
                subject of the latest fact with the same key.
            now: The time, for plans with relative dates.

        Returns:
            The extraction.
        """
        claims: list[Claim] = []
        task: str | None = None
        step: str | None = None
        entities: dict[str, str] = {}
        relations: dict[str, str] = {}  # "wife" -> "Ana", as the turns name them
        for turn in turns:
            text = message_text(turn)
            _add_entities(entities, text)
            if turn.type == "ai":
                claims += self._assumptions(turn, text)
                continue
            if turn.type not in ("human", "system"):
                continue
            for sentence in _sentences(text):
                claims += self._sentence(
                    sentence, turn, existing=existing, now=now, relations=relations
                )
                new_task, new_step = _task_and_step(sentence)
                task = task or new_task
                step = new_step or step
        return Extraction(claims=claims, task=task, step=step, entities=entities)

    async def aextract(
        self, turns: Sequence[BaseMessage], *, existing: Sequence[Fact], now: datetime
    ) -> Extraction:
        """Async twin of `extract` (pattern matching needs no I/O)."""
        return self.extract(turns, existing=existing, now=now)

    def _assumptions(self, turn: BaseMessage, text: str) -> list[Claim]:
        claims = []
        for sentence in _sentences(text):
            for match in _ASSUMPTION.finditer(sentence):
                value = _clean(match["v"])
                if len(value.split()) >= 2:
                    claims.append(
                        Claim(
                            key="assumption",
                            value=_clip(value),
                            subject="assistant",
                            source_turn_id=message_id(turn),
                            trust_level=TrustLevel.MODEL_INFERRED,
                        )
                    )
        return claims

    def _sentence(
        self,
        sentence: str,
        turn: BaseMessage,
        *,
        existing: Sequence[Fact],
        now: datetime,
        relations: dict[str, str],
    ) -> list[Claim]:
        source = message_id(turn)
        action: ClaimAction = "assert"
        body = sentence
        claims: list[Claim] = []
        if wrong := _WRONG.match(sentence):
            claims.append(Claim(action="reject", key=None, value="", source_turn_id=source))
            body, action = wrong["rest"], "correct"
        elif correction := _CORRECTION.match(sentence):
            body, action = correction["rest"], "correct"
        found = [
            f.claim
            for f in _match_sentence(
                body, source=source, existing=existing, now=now, relations=relations
            )
        ]
        for claim in found:
            if claim.key and claim.key.startswith("family:") and claim.subject == "user":
                relations[claim.key.split(":", 1)[1]] = claim.value
        if action == "correct":
            found = [
                c if c.action != "assert" else c.model_copy(update={"action": "correct"})
                for c in found
            ]
            rest = _clean(body)
            generic = rest and rest.casefold() not in _NOT_VALUES
            # "Actually, the third one" points back; the resolver handles it.
            generic = generic and not _TASK.match(rest) and not _BACK_REFERENCE.search(rest)
            if not found and generic:
                found = [
                    Claim(action="correct", key=None, value=_clip(rest), source_turn_id=source)
                ]
        return claims + found


# ------------------------------------------------------------ other people, retractions

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


def _subject_for(key: str, text: str, existing: Sequence[Fact]) -> str:
    entity = _ENTITY.search(text)
    if entity:
        return entity["id"]
    for fact in reversed(existing):
        if fact.key == key and fact.status == "active":
            return fact.subject
    return "task"


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
