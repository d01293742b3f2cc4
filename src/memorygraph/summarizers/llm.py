"""`LLMSummarizer`: a chat model folds the old summary and the new turns into a new one.

The model answers with structured output (a pydantic schema). The result is
validated like any `SessionSummary`; if the model breaks an invariant (say, it
lists a rejected assumption as a confirmed decision), the turns are folded by the
`ExtractiveSummarizer` instead and a warning is logged, so the thread never
carries a summary that contradicts itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from memorygraph.records import SessionSummary
from memorygraph.summarizers.extractive import ExtractiveSummarizer
from memorygraph.turns import message_id, message_text

__all__ = ["LLMSummarizer", "SummaryDraft"]

logger = logging.getLogger(__name__)

INSTRUCTIONS = """You maintain a structured summary of a conversation.
Fold the NEW TURNS into the PREVIOUS SUMMARY and return the complete new summary.
Rules:
- Keep every confirmed decision unless a new turn corrects it; a correction replaces it.
- Never list a rejected assumption as a confirmed decision.
- Only the user confirms decisions; the assistant's suggestions are not decisions.
- Keep entity ids exactly as written (for example C-1042).
- End every list entry with the turn id it came from, as [turn <id>].
- Be brief: at most {max_items} entries per list."""


class SummaryDraft(BaseModel):
    """The summary content a model returns."""

    user_goal: str | None = Field(None, description="What the user is trying to achieve.")
    active_task: str | None = Field(None, description="The task in progress.")
    confirmed_decisions: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    rejected_assumptions: list[str] = Field(default_factory=list)
    important_entities: dict[str, str] = Field(
        default_factory=dict, description="Entity names mapped to their ids."
    )
    risk_notes: list[str] = Field(default_factory=list)


def _prompt(
    previous: SessionSummary | None, turns: Sequence[BaseMessage], max_items: int
) -> list[BaseMessage]:
    fields = set(SummaryDraft.model_fields)
    before = (previous or SessionSummary()).model_dump(include=fields)
    lines = [f"{turn.type} [turn {message_id(turn)}]: {message_text(turn)}" for turn in turns]
    body = (
        "PREVIOUS SUMMARY (JSON):\n"
        + json.dumps(before, ensure_ascii=False, indent=1)
        + "\n\nNEW TURNS:\n"
        + "\n".join(lines)
    )
    return [SystemMessage(INSTRUCTIONS.format(max_items=max_items)), HumanMessage(body)]


class LLMSummarizer:
    """Summarizes with any LangChain chat model that supports structured output.

    Args:
        model: The chat model (``ChatOpenAI(...)``, a local OpenAI-compatible
            server, ``init_chat_model(...)``).
        method: The structured-output method passed to ``with_structured_output``.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
    ) -> None:
        self.model = model
        self._structured = model.with_structured_output(SummaryDraft, method=method)
        self._fallback = ExtractiveSummarizer()

    def _finish(
        self,
        draft: Any,
        previous: SessionSummary | None,
        turns: Sequence[BaseMessage],
        max_items: int,
    ) -> SessionSummary:
        try:
            content = SummaryDraft.model_validate(draft).model_dump()
            for key, value in content.items():
                if isinstance(value, list):
                    content[key] = value[-max_items:]
            return SessionSummary(**content)
        except ValidationError as exc:
            logger.warning("model summary failed validation, folding extractively: %s", exc)
            return self._fallback.summarize(previous, turns, max_items=max_items)

    def summarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Fold ``turns`` into ``previous`` with the model."""
        draft = self._structured.invoke(_prompt(previous, turns, max_items))
        return self._finish(draft, previous, turns, max_items)

    async def asummarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Async twin of `summarize`."""
        draft = await self._structured.ainvoke(_prompt(previous, turns, max_items))
        return self._finish(draft, previous, turns, max_items)
