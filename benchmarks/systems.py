"""The systems the benchmarks run turn by turn, and the fake chat model they share.

Every system answers with `FixedReplyModel`: a fake that replies a fixed
~200-character message at once and counts, with memorygraph's `TokenCounter`,
the prompt tokens it was sent. A `Subject` is one system on one thread:
``run_turn(message)`` sends one human message and returns the graph's output.

- **memorygraph**: `create_memory_graph(model, checkpointer=..., store=...)`
  with the default `MemoryConfig`, run by ``invoke`` with a `MemoryContext`.
- **baseline**: a plain four-node `MessagesState` graph, each node appending a
  ~50-character message (checkpoint growth only).
- **langmem**: langmem's `SummarizationNode`, wired as its docstring shows.
- **create_agent**: LangChain's `create_agent` with `SummarizationMiddleware`
  (trigger at memorygraph's available tokens, keep 20 messages).
"""

from __future__ import annotations

import importlib.metadata
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.store.base import BaseStore
from pydantic import Field
from typing_extensions import TypedDict

from memorygraph import MemoryConfig, MemoryContext, TokenCounter, create_memory_graph
from memorygraph.checkpointers import register_types

REPLY_CHARS = 200
HUMAN_CHARS = 200
NOTE_CHARS = 50
KEEP_MESSAGES = 20  # SummarizationMiddleware's keep=("messages", 20)
CONTEXT = MemoryContext(tenant_id="bench", user_id="user")

_WORDS = [
    "".join(random.Random(i).choices("abcdefghijklmnopqrstuvwxyz", k=1 + i % 9))
    for i in range(2_000)
]


def text_of(seed: int, chars: int) -> str:
    """Deterministic English-like text of exactly ``chars`` characters."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < chars:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:chars]


REPLY = text_of(-1, REPLY_CHARS)


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def available_tokens(config: MemoryConfig | None = None) -> int:
    """The tokens memorygraph may fill: the budget less the output reserve."""
    config = config or MemoryConfig()
    return config.token_budget - config.output_reserve


# --- the fake chat model ---

_COUNTER: TokenCounter | None = None


def counter() -> TokenCounter:
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = TokenCounter()
    return _COUNTER


class FixedReplyModel(BaseChatModel):
    """Answers a fixed reply at once, and counts the prompt tokens of each call."""

    reply: str = REPLY
    prompt_tokens: list[int] = Field(default_factory=list)
    keep_prompts: bool = False
    """Also keep each prompt's text, in ``prompts`` (off while timing)."""
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fixed-reply-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompt_tokens.append(counter().count_messages(messages))
        if self.keep_prompts:
            self.prompts.append("\n".join(message.text for message in messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])


# --- the graphs under test ---


@dataclass
class Subject:
    """A graph, ready to run turns on one thread.

    ``run_turn`` sends one human message; ``observe`` reads the graph's output
    after the turn's time is taken (memorygraph: the recalled tokens of the
    package the model was sent, into ``recalled``).
    """

    name: str
    run_turn: Callable[[HumanMessage], object]
    models: dict[str, FixedReplyModel] = field(default_factory=dict)
    observe: Callable[[object], None] = lambda output: None
    recalled: list[int] = field(default_factory=list)
    graph: Any = None
    callbacks: list[Any] = field(default_factory=list)
    invoke_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. durability

    def config(self) -> RunnableConfig:
        config: RunnableConfig = {"configurable": {"thread_id": "bench"}}
        if self.callbacks:
            config["callbacks"] = list(self.callbacks)
        return config


def memorygraph_subject(
    saver: BaseCheckpointSaver[Any], store: BaseStore | None, config: MemoryConfig | None = None
) -> Subject:
    model = FixedReplyModel()
    graph = create_memory_graph(model, checkpointer=saver, store=store, config=config)
    subject = Subject("memorygraph", lambda message: None, {"reply": model}, graph=graph)

    def run_turn(message: HumanMessage) -> object:
        return graph.invoke(
            {"messages": [message]}, subject.config(), context=CONTEXT, **subject.invoke_kwargs
        )

    def observe(output: object) -> None:
        package = output.get("context_package") if isinstance(output, dict) else None
        if package is not None:
            subject.recalled.append(package.tokens_by_kind().get("recalled", 0))

    subject.run_turn, subject.observe = run_turn, observe
    return subject


def baseline_subject(saver: BaseCheckpointSaver[Any]) -> Subject:
    builder = StateGraph(MessagesState)
    previous = START
    for step in range(1, 5):
        name = f"node_{step}"

        def append(state: MessagesState, step: int = step) -> dict[str, Any]:
            turn = len(state["messages"])
            return {"messages": [AIMessage(text_of(turn * 10 + step, NOTE_CHARS))]}

        builder.add_node(name, append)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    graph = builder.compile(checkpointer=saver)
    subject = Subject("baseline", lambda message: None, graph=graph)
    subject.run_turn = lambda message: graph.invoke(
        {"messages": [message]}, subject.config(), **subject.invoke_kwargs
    )
    return subject


def langmem_subject(saver: BaseCheckpointSaver[Any]) -> Subject:
    """langmem's `SummarizationNode`, wired as its docstring shows."""
    with warnings.catch_warnings():
        # langmem 0.0.30's trustcall imports `Send` from its pre-1.0 place.
        warnings.simplefilter("ignore", DeprecationWarning)
        from langmem.short_term import RunningSummary, SummarizationNode

    class State(MessagesState):
        context: dict[str, Any]

    class LLMInputState(TypedDict):
        summarized_messages: list[AnyMessage]
        context: dict[str, Any]

    reply_model = FixedReplyModel()
    summary_model = FixedReplyModel()
    available = available_tokens()
    summarize = SummarizationNode(
        model=summary_model,
        max_tokens=available,
        max_tokens_before_summary=available,
        max_summary_tokens=256,
    )

    def call_model(state: LLMInputState) -> dict[str, Any]:
        return {"messages": [reply_model.invoke(state["summarized_messages"])]}

    builder = StateGraph(State)
    builder.add_node("summarize", summarize)
    builder.add_node("call_model", call_model, input_schema=LLMInputState)
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", "call_model")
    builder.add_edge("call_model", END)
    graph = builder.compile(checkpointer=register_types(saver, extra_types=[RunningSummary]))
    models = {"reply": reply_model, "summary": summary_model}
    subject = Subject("langmem", lambda message: None, models, graph=graph)
    subject.run_turn = lambda message: graph.invoke(
        {"messages": [message]}, subject.config(), **subject.invoke_kwargs
    )
    return subject


def create_agent_subject(saver: BaseCheckpointSaver[Any]) -> Subject:
    """LangChain's `create_agent` with `SummarizationMiddleware`, as its docs wire it.

    The middleware summarizes (with a second fake model) once the thread's
    messages reach memorygraph's available tokens, by its default token
    counter (`count_tokens_approximately`), and keeps the last 20 messages.
    """
    from langchain.agents import create_agent
    from langchain.agents.middleware import SummarizationMiddleware

    reply_model = FixedReplyModel()
    summary_model = FixedReplyModel()
    middleware = SummarizationMiddleware(
        model=summary_model,
        trigger=("tokens", available_tokens()),
        keep=("messages", KEEP_MESSAGES),
    )
    graph = create_agent(reply_model, tools=[], middleware=[middleware], checkpointer=saver)
    models = {"reply": reply_model, "summary": summary_model}
    subject = Subject("create_agent", lambda message: None, models, graph=graph)
    subject.run_turn = lambda message: graph.invoke(
        {"messages": [message]}, subject.config(), **subject.invoke_kwargs
    )
    return subject


ANCHORS: dict[str, Callable[[BaseCheckpointSaver[Any]], Subject]] = {
    "create_agent": create_agent_subject,
    "langmem": langmem_subject,
}
ANCHOR_PACKAGES = {"create_agent": "langchain", "langmem": "langmem"}
