"""`OfflineChatModel`: a deterministic chat model that needs no network.

It answers only from the messages it is given, which makes it the honest
stand-in when no model is configured: what it "remembers" is exactly what the
context package carried. It says that it is offline.

Its answer is the line of context that best matches the request: every line of
the data items (facts, summary, recalled turns) and of the earlier user turns
is ranked against the request with BM25, on the words
`memorygraph.retrieval.lexical.tokenize` keeps (lowercased, stemmed, stopwords
out). When the request holds a question, only the question's words are
matched ("Hello again, it's Ana. Where did we say the trip starts?" asks about
the trip, not about Ana).

With tools bound (``bind_tools``), a request that names a tool ("What's the
weather in Lisbon?" and a ``weather`` tool) gets a call to it, its string
arguments filled with the request's last capitalized word; once the results are
back, it answers with them. That is enough to run a tool-calling graph offline.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> model = OfflineChatModel()
    >>> reply = model.invoke([HumanMessage("My favourite colour is teal."),
    ...                       HumanMessage("What is my favourite colour?")])
    >>> "teal" in reply.text
    True
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from memorygraph.retrieval.lexical import tokenize

__all__ = ["OfflineChatModel", "best_line", "resolve_model"]

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_TURN_REFERENCE = re.compile(r"\s*\[turn [^\]]*\]")
_K1, _B = 1.2, 0.75
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w-]+)")


def _question(request: str) -> str:
    """The request's questions, or the whole request when it asks none."""
    asked = [s.strip() for s in _SENTENCE.findall(request) if s.strip().endswith("?")]
    return " ".join(asked) or request


def _evidence_lines(messages: Sequence[BaseMessage], request: BaseMessage) -> list[str]:
    lines: list[str] = []
    for message in messages:
        # Only what others said is evidence: quoting its own replies would echo itself.
        if message is request or message.type in ("system", "ai"):
            continue
        for line in message.text.splitlines():
            line = _TURN_REFERENCE.sub("", line.removeprefix("> ")).strip()
            if "(offline model)" in line:  # its own earlier reply, recalled from the archive
                continue
            if line.startswith(("[", "Context for", "Covers turns", "...")):
                continue  # headers and bookkeeping memorygraph wrote, not what was said
            if line and not line.endswith("?"):
                lines.append(line)
    return lines


def _turn_in_progress(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """What follows the last user message: this turn's tool calls and results."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage) and message.name != "context":
            return list(messages[index + 1 :])
    return []


def best_line(request: str, lines: Sequence[str]) -> str | None:
    """Return the line that best answers the request by BM25, or None when none shares a word.

    Args:
        request: The user's request; its questions, when it has any, are what is matched.
        lines: The candidate lines, in context order. A tie goes to the earlier one
            (facts come before the summary and recalled turns in a package).

    Returns:
        The best line, or None.

    Example:
        >>> best_line("Where does the trip start?",
        ...           ["I live in Lisbon.", "The trip starts in Osaka.", "Trip to Japan."])
        'The trip starts in Osaka.'
    """
    wanted = set(tokenize([_question(request)])[0])
    if not wanted or not lines:
        return None
    # A fact's key is one word to the tokenizer ("lives_in"): its parts are what people say.
    documents = [Counter(words) for words in tokenize([line.replace("_", " ") for line in lines])]
    average = sum(sum(d.values()) for d in documents) / len(documents) or 1.0
    frequency = Counter(word for d in documents for word in d)
    best, best_score = None, 0.0
    for line, document in zip(lines, documents, strict=True):
        length = sum(document.values()) / average
        score = 0.0
        for word in wanted & document.keys():
            idf = math.log(1 + (len(documents) - frequency[word] + 0.5) / (frequency[word] + 0.5))
            tf = document[word]
            score += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length))
        if score > best_score:
            best, best_score = line, score
    return best


def _tool_call(request: str, tools: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """A call to the first tool whose name the request mentions, or None."""
    wanted = set(tokenize([request])[0])
    for tool in tools:
        function = tool.get("function", {})
        name = str(function.get("name", ""))
        if not wanted & set(tokenize([name.replace("_", " ")])[0]):
            continue
        properties = function.get("parameters", {}).get("properties", {})
        if any(spec.get("type") != "string" for spec in properties.values()):
            continue
        names = _NAME.findall(request.strip())
        value = names[-1] if names else request.strip().rstrip("?.!").split()[-1]
        return {
            "name": name,
            "args": dict.fromkeys(properties, value),
            "id": f"offline-{name}",
            "type": "tool_call",
        }
    return None


class OfflineChatModel(BaseChatModel):
    """Answers with the context line that best matches the request (BM25); never calls out."""

    @property
    def _llm_type(self) -> str:
        return "memorygraph-offline"

    @property
    def model_name(self) -> str:
        """The name recorded in the audit log."""
        return "memorygraph-offline"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Bind tools: a request that names one gets a call to it (see the module docstring)."""
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        humans = [m for m in messages if isinstance(m, HumanMessage) and m.name != "context"]
        request = humans[-1] if humans else None
        results = [m.text for m in _turn_in_progress(messages) if isinstance(m, ToolMessage)]
        call = _tool_call(request.text, kwargs.get("tools") or []) if request else None
        if results:
            text = "(offline model) The tools said: " + " ".join(results)
        elif call is not None:
            message = AIMessage("", tool_calls=[call])
            return ChatResult(generations=[ChatGeneration(message=message)])
        elif request is None:
            text = "(offline model) There is no request in my context."
        else:
            line = best_line(request.text, _evidence_lines(messages, request))
            if line is not None:
                text = f"(offline model) From what I was given: {line}"
            else:
                text = (
                    "(offline model) Noted. I answer only from the context I was "
                    f"given, {len(messages)} messages this turn."
                )
        message = AIMessage(text)
        return ChatResult(generations=[ChatGeneration(message=message)])


def resolve_model() -> BaseChatModel:
    """Pick the chat model: ``MEMORYGRAPH_MODEL``, then OpenAI, else the offline model."""
    name = os.environ.get("MEMORYGRAPH_MODEL")
    if name:
        from langchain.chat_models import init_chat_model

        model: BaseChatModel = init_chat_model(name)
        return model
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4o-mini")
    return OfflineChatModel()
