"""Fakes for the parts that would need the internet (a chat model that records its calls), and a
real in-memory store that counts its searches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.store.base import Op, Result, SearchOp
from langgraph.store.memory import InMemoryStore
from pydantic import Field


class RecordingChatModel(BaseChatModel):
    """Replies from a script (or an echo), and records every list of messages it is sent."""

    replies: list[AIMessage] = Field(default_factory=list)
    respond: Callable[[Sequence[BaseMessage]], AIMessage] | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    model_name: str = "recording-fake"

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Accept tools (replies are scripted), so ``with_structured_output`` works."""
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        if self.replies:
            reply = self.replies.pop(0)
        elif self.respond is not None:
            reply = self.respond(messages)
        else:
            reply = AIMessage(
                f"reply {len(self.calls)}",
                usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


class SearchCountingStore(InMemoryStore):
    """LangGraph's in-memory store, recording the namespace of every search it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.searches: list[tuple[str, ...]] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.searches += [op.namespace_prefix for op in ops if isinstance(op, SearchOp)]
        return super().batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.searches += [op.namespace_prefix for op in ops if isinstance(op, SearchOp)]
        return await super().abatch(ops)
