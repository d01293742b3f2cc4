"""`OfflineChatModel`: a deterministic chat model that needs no network.

It answers only from the messages it is given, which makes it the honest
stand-in when no model is configured: what it "remembers" is exactly what the
context package carried. It says that it is offline.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> model = OfflineChatModel()
    >>> reply = model.invoke([HumanMessage("My favourite colour is teal."),
    ...                       HumanMessage("What is my favourite colour?")])
    >>> "teal" in reply.text
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

__all__ = ["OfflineChatModel"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are did do does for from how i is it me my of on or the to was what when where "
    "which who why you your".split()
)


def _words(text: str) -> set[str]:
    # A crude stem ("starts" -> "start") is enough for matching a question to a turn.
    words = (w for w in _WORD.findall(text.casefold()) if w not in _STOP and len(w) > 1)
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def _evidence_lines(messages: Sequence[BaseMessage], request: BaseMessage) -> list[str]:
    lines: list[str] = []
    for message in messages:
        # Only what others said is evidence: quoting its own replies would echo itself.
        if message is request or message.type in ("system", "ai"):
            continue
        for line in message.text.splitlines():
            line = line.removeprefix("> ").strip()
            if "(offline model)" in line:  # its own earlier reply, recalled from the archive
                continue
            if line and not line.endswith("?") and not line.startswith(("[", "Context for")):
                lines.append(line)
    return lines


class OfflineChatModel(BaseChatModel):
    """Answers from the context it is given, by word overlap; never calls out."""

    @property
    def _llm_type(self) -> str:
        return "memorygraph-offline"

    @property
    def model_name(self) -> str:
        """The name recorded in the audit log."""
        return "memorygraph-offline"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        humans = [m for m in messages if isinstance(m, HumanMessage) and m.name != "context"]
        request = humans[-1] if humans else None
        if request is None:
            text = "(offline model) There is no request in my context."
        else:
            wanted = _words(request.text)
            scored = [
                (len(wanted & _words(line)), index, line)
                for index, line in enumerate(_evidence_lines(messages, request))
            ]
            best = max(scored, default=(0, 0, ""))
            if best[0] > 0:
                text = f"(offline model) From what I was given: {best[2]}"
            else:
                text = (
                    "(offline model) Noted. I answer only from the context I was "
                    f"given, {len(messages)} messages this turn."
                )
        message = AIMessage(text)
        return ChatResult(generations=[ChatGeneration(message=message)])
