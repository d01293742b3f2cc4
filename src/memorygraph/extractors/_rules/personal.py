"""Rules about who the person is: names, places, work, tastes, diet, family, plans."""

from __future__ import annotations

import re

from memorygraph.extractors._rules.text import (
    _CAPITAL_NAME,
    _CLAUSE,
    _IM,
    _LIST,
    _NAME,
    _RELATION,
    _RELATIONS,
    _REST,
    _Rule,
    _rule,
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


def _job_like(value: str) -> bool:
    last = value.split()[-1].casefold() if value.split() else ""
    return bool(_JOBS.search(last)) and last not in _NOT_JOBS and value.casefold() not in _NOT_JOBS


# Earlier rules win where two matches overlap (`matching._RULES` keeps this order).
PERSONAL_RULES: tuple[_Rule, ...] = (
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
)
