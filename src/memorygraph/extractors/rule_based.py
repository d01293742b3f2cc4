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

The rules live in `memorygraph.extractors._rules`, one module per topic
(personal, health, work, contacts, other people and retractions); this module
reads the turns and applies them.

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

from collections.abc import Sequence
from datetime import datetime

from langchain_core.messages import BaseMessage

from memorygraph.extractors._rules.people import _match_sentence
from memorygraph.extractors._rules.text import _NOT_VALUES, _clean, _clip, _sentences
from memorygraph.extractors._rules.work import (
    _ASSUMPTION,
    _BACK_REFERENCE,
    _CORRECTION,
    _TASK,
    _WRONG,
    _add_entities,
    _task_and_step,
)
from memorygraph.extractors.base import Claim, ClaimAction, Extraction
from memorygraph.records import Fact, TrustLevel
from memorygraph.turns import message_id, message_text

__all__ = ["RuleBasedExtractor"]


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
