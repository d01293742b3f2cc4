"""Rules about health: allergies, conditions and medication, all sensitive."""

from __future__ import annotations

from memorygraph.extractors._rules.text import (
    _IM,
    _LIST,
    _Rule,
    _rule,
)

# Earlier rules win where two matches overlap (`matching._RULES` keeps this order).
HEALTH_RULES: tuple[_Rule, ...] = (
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
)
