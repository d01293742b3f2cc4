"""`ExtractiveSummarizer`: the deterministic, offline summarizer.

It keeps what a summary must not lose, with the id of the turn each came from:
decisions (and corrections, which replace the decision they correct), open
questions, rejected assumptions, the user's goal, the active task, entity ids and
risk notes. It reads only what the user said: a model's reply is not a decision.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> turns = [HumanMessage("Let's go with Kyoto first.", id="h1"),
    ...          AIMessage("Great choice.", id="a1"),
    ...          HumanMessage("Actually, start in Osaka. Don't assume I like temples.", id="h2")]
    >>> summary = ExtractiveSummarizer().summarize(None, turns, max_items=10)
    >>> summary.confirmed_decisions
    ["Actually, start in Osaka. [turn h2; corrects: Let's go with Kyoto first.]"]
    >>> summary.rejected_assumptions
    ["Don't assume I like temples. [turn h2]"]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import BaseMessage, HumanMessage

from memorygraph.records import SessionSummary
from memorygraph.turns import message_id, message_text

__all__ = ["ExtractiveSummarizer"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DECISION = re.compile(
    r"\b(let'?s go with|we(?:'ve| have)? decided|i(?:'ve| have)? decided|decided to|"
    r"we'?ll go with|i'?ll go with|go ahead with|the decision is|we agreed|agreed to|"
    r"let'?s do|we'?re going with|i'?m going with)\b",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"^(actually|no,? i meant|correction|scratch that|i meant|change of plan)\b"
    r"|\bnot \w[\w ]* but\b",
    re.IGNORECASE,
)
_REJECTION = re.compile(
    r"\b(don'?t assume|do not assume|that'?s (?:wrong|not true|incorrect)|"
    r"that is (?:wrong|not true|incorrect)|it is not true|stop assuming)\b",
    re.IGNORECASE,
)
_GOAL = re.compile(
    r"\b(i want to|i'?d like to|i would like to|i need to|help me|my goal is|"
    r"i'?m trying to|i am trying to|i'?m planning|i am planning)\b",
    re.IGNORECASE,
)
_TASK = re.compile(
    r"\b(let'?s work on|the task is|next task|switch to|move on to|now let'?s|new task)\b",
    re.IGNORECASE,
)
_RISK = re.compile(
    r"\b(urgent|deadline|risk|escalat\w*|careful|must not|never|allerg\w*|confidential)\b",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"\b(?:([a-z]+)\s+)?([A-Z][A-Z0-9]*-\d+)\b")
_MAX_CHARS = 240


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _tagged(sentence: str, turn_id: str, note: str = "") -> str:
    return f"{_clip(sentence)} [turn {turn_id}{'; ' + note if note else ''}]"


def _untagged(entry: str) -> str:
    return entry.rsplit(" [turn ", 1)[0]


def _newest(values: list[str], limit: int) -> list[str]:
    unique = list(dict.fromkeys(values))
    return unique[-limit:]


@dataclass
class _Draft:
    goal: str | None
    task: str | None
    decisions: list[str]
    questions: list[str]
    rejected: list[str]
    risks: list[str]
    entities: dict[str, str]

    def read(self, sentence: str, turn_id: str) -> None:
        if _REJECTION.search(sentence):
            self.rejected.append(_tagged(sentence, turn_id))
            return
        if _CORRECTION.search(sentence):
            corrected = self.decisions.pop() if self.decisions else ""
            note = f"corrects: {_untagged(corrected)}" if corrected else "correction"
            self.decisions.append(_tagged(sentence, turn_id, note))
        elif _DECISION.search(sentence):
            self.decisions.append(_tagged(sentence, turn_id))
        if sentence.rstrip().endswith("?"):
            self.questions.append(_tagged(sentence, turn_id))
        if _GOAL.search(sentence):
            self.goal = _tagged(sentence, turn_id)
        if _TASK.search(sentence):
            self.task = _tagged(sentence, turn_id)
        if _RISK.search(sentence):
            self.risks.append(_tagged(sentence, turn_id))
        for name, ref in _ENTITY.findall(sentence):
            self.entities[name or ref] = ref


class ExtractiveSummarizer:
    """Deterministic rules over the user's sentences; no model, no network."""

    def summarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Fold ``turns`` into ``previous``.

        Args:
            previous: The summary so far, or None.
            turns: The turns leaving the window, oldest first.
            max_items: The most entries each list keeps (the newest win).

        Returns:
            The new summary content (bookkeeping fields are the caller's).
        """
        base = previous or SessionSummary()
        draft = _Draft(
            goal=base.user_goal,
            task=base.active_task,
            decisions=list(base.confirmed_decisions),
            questions=list(base.open_questions),
            rejected=list(base.rejected_assumptions),
            risks=list(base.risk_notes),
            entities=dict(base.important_entities),
        )
        for turn in turns:
            if isinstance(turn, HumanMessage):
                turn_id = message_id(turn)
                for sentence in _SENTENCE.split(message_text(turn).strip()):
                    if sentence:
                        draft.read(sentence, turn_id)
        rejected_texts = {_untagged(entry).casefold() for entry in draft.rejected}
        decisions = [d for d in draft.decisions if _untagged(d).casefold() not in rejected_texts]
        return SessionSummary(
            user_goal=draft.goal,
            active_task=draft.task,
            confirmed_decisions=_newest(decisions, max_items),
            open_questions=_newest(draft.questions, max_items),
            rejected_assumptions=_newest(draft.rejected, max_items),
            important_entities=dict(list(draft.entities.items())[-max_items:]),
            risk_notes=_newest(draft.risks, max_items),
        )

    async def asummarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Async twin of `summarize` (pure CPU work)."""
        return self.summarize(previous, turns, max_items=max_items)
