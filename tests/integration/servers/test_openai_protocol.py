"""memorygraph with ChatOpenAI against a real (local) OpenAI-compatible HTTP server.

The server is `tests.openai_server` on loopback: what it received is exactly
what a hosted API, vLLM, llama.cpp or Ollama would have received.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from langchain_core.messages import (
    AIMessageChunk,
    HumanMessage,
    ToolMessage,
    convert_to_openai_messages,
)
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel, Field

from memorygraph import MemoryContext, TokenCounter, create_memory_graph
from memorygraph.checkpointers import memorygraph_serializer
from memorygraph.graph import MemoryGraph
from memorygraph.records import TokenUsage
from memorygraph.summarizers import LLMSummarizer
from tests.openai_server import OpenAIServer
from tests.unit.test_tokens import BLOBPATHS, _gunzipped

ANA = MemoryContext(tenant_id="acme", user_id="ana")


class Person(BaseModel):
    """A person mentioned in the conversation."""

    name: str = Field(description="The person's name")
    city: str = Field(description="Where they live")


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Seed tiktoken's download cache, so ChatOpenAI counts tokens offline."""
    cache_dir = tmp_path_factory.mktemp("tiktoken-cache")
    for name, blobpath in BLOBPATHS.items():
        (cache_dir / hashlib.sha1(blobpath.encode()).hexdigest()).write_bytes(_gunzipped(name))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
        yield cache_dir


def chat_openai(server: OpenAIServer, **kwargs: Any) -> ChatOpenAI:
    options: dict[str, Any] = {"model": "gpt-4o", "max_retries": 0, "timeout": 10.0}
    return ChatOpenAI(base_url=server.base_url, api_key="test", **{**options, **kwargs})


def memory_graph(model: ChatOpenAI) -> MemoryGraph:
    return create_memory_graph(
        model, checkpointer=InMemorySaver(serde=memorygraph_serializer()), store=InMemoryStore()
    )


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def test_the_request_is_the_package(openai_server: OpenAIServer) -> None:
    openai_server.reply("Nice to meet you, Ana.")
    openai_server.reply("You live in Lisbon.")
    graph = memory_graph(chat_openai(openai_server))
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("Hi, I'm Ana. I live in Lisbon.")]}, cfg, context=ANA)
    graph.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg, context=ANA)

    values = graph.get_state(cfg).values
    assert values["messages"][-1].content == "You live in Lisbon."
    assert len(openai_server.requests) == 2
    request = openai_server.requests[-1]
    assert request["model"] == "gpt-4o" and not request.get("stream")
    # Byte for byte what the package renders, in the OpenAI wire format.
    expected = convert_to_openai_messages(values["context_package"].to_messages())
    assert request["messages"] == expected
    roles = [m["role"] for m in request["messages"]]
    # The system message first, the first turn as native history, the request last.
    assert roles[0] == "system" and roles[-3:] == ["user", "assistant", "user"]
    assert request["messages"][-3]["content"] == "Hi, I'm Ana. I live in Lisbon."
    assert request["messages"][-1]["content"] == "Where do I live?"


def test_usage_counts_land_in_state(openai_server: OpenAIServer) -> None:
    openai_server.reply(
        "one", usage={"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}
    )
    openai_server.reply(
        "two", usage={"prompt_tokens": 150, "completion_tokens": 3, "total_tokens": 153}
    )
    graph = memory_graph(chat_openai(openai_server))
    cfg = thread()
    for text in ("first", "second"):
        graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=ANA)
    usage = graph.get_state(cfg).values["usage"]
    assert usage == TokenUsage(input_tokens=250, output_tokens=10, total_tokens=260, calls=2)
    assert graph.get_state(cfg).values["messages"][-1].usage_metadata["input_tokens"] == 150


def test_streaming_through_the_graph(openai_server: OpenAIServer) -> None:
    text = "You told me that you live in Lisbon, Ana."
    openai_server.reply(
        text, usage={"prompt_tokens": 40, "completion_tokens": 11, "total_tokens": 51}
    )
    graph = memory_graph(chat_openai(openai_server, stream_usage=True))
    cfg = thread()
    chunks = [
        chunk
        for chunk, metadata in graph.stream(
            {"messages": [HumanMessage("Where do I live?")]},
            cfg,
            context=ANA,
            stream_mode="messages",
        )
        if isinstance(chunk, AIMessageChunk) and metadata["langgraph_node"] == "call_model"
    ]
    request = openai_server.requests[-1]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert len([c for c in chunks if c.content]) == len(text.split(" "))
    assert "".join(str(c.content) for c in chunks) == text
    values = graph.get_state(cfg).values
    assert values["messages"][-1].content == text
    assert values["usage"].input_tokens == 40 and values["usage"].output_tokens == 11


def test_tool_calls_round_trip(openai_server: OpenAIServer) -> None:
    openai_server.reply(
        tool_calls=[
            {"id": "call_a", "name": "weather", "arguments": {"city": "Lisbon"}},
            {"id": "call_b", "name": "weather", "arguments": {"city": "Porto"}},
        ]
    )
    openai_server.reply("Sunny in both.")

    def weather(city: str) -> str:
        """Today's weather in a city."""
        return f"sunny in {city}"

    model = chat_openai(openai_server, stream_usage=True)
    graph = memory_graph(model.bind_tools([weather]))  # type: ignore[arg-type]
    cfg = thread()
    list(
        graph.stream(
            {"messages": [HumanMessage("Weather in Lisbon and Porto?")]},
            cfg,
            context=ANA,
            stream_mode="messages",
        )
    )
    reply = graph.get_state(cfg).values["messages"][-1]
    assert [(c["id"], c["args"]) for c in reply.tool_calls] == [
        ("call_a", {"city": "Lisbon"}),
        ("call_b", {"city": "Porto"}),
    ]
    assert openai_server.requests[0]["tools"][0]["function"]["name"] == "weather"

    results = [
        ToolMessage("sunny in Lisbon", tool_call_id="call_a"),
        ToolMessage("sunny in Porto", tool_call_id="call_b"),
    ]
    graph.invoke({"messages": results}, cfg, context=ANA)
    sent = openai_server.requests[-1]["messages"]
    assistant = next(m for m in sent if m.get("tool_calls"))
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_a", "call_b"]
    assert json.loads(assistant["tool_calls"][1]["function"]["arguments"]) == {"city": "Porto"}
    after = sent[sent.index(assistant) + 1 :]
    assert [(m["role"], m["tool_call_id"]) for m in after] == [
        ("tool", "call_a"),
        ("tool", "call_b"),
    ]
    assert graph.get_state(cfg).values["messages"][-1].content == "Sunny in both."


def test_structured_output_function_calling(openai_server: OpenAIServer) -> None:
    openai_server.reply(
        tool_calls=[{"name": "Person", "arguments": {"name": "Ana", "city": "Lisbon"}}]
    )
    structured = chat_openai(openai_server).with_structured_output(
        Person, method="function_calling"
    )
    assert structured.invoke("Ana lives in Lisbon.") == Person(name="Ana", city="Lisbon")
    request = openai_server.requests[-1]
    assert request["tools"][0]["function"]["name"] == "Person"
    assert set(request["tools"][0]["function"]["parameters"]["properties"]) == {"name", "city"}
    assert request["tool_choice"]["function"]["name"] == "Person"


def test_structured_output_json_schema(openai_server: OpenAIServer) -> None:
    openai_server.reply(json.dumps({"name": "Ana", "city": "Lisbon"}))
    structured = chat_openai(openai_server).with_structured_output(Person, method="json_schema")
    assert structured.invoke("Ana lives in Lisbon.") == Person(name="Ana", city="Lisbon")
    response_format = openai_server.requests[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Person"
    assert response_format["json_schema"]["strict"] is True


async def test_structured_output_async(openai_server: OpenAIServer) -> None:
    openai_server.reply(json.dumps({"name": "Ana", "city": "Lisbon"}))
    structured = chat_openai(openai_server).with_structured_output(Person, method="json_schema")
    assert await structured.ainvoke("Ana lives in Lisbon.") == Person(name="Ana", city="Lisbon")


def test_rate_limit_is_retried(openai_server: OpenAIServer) -> None:
    openai_server.fail(429)
    openai_server.reply("Done after a retry.")
    graph = memory_graph(chat_openai(openai_server, max_retries=2))
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    assert graph.get_state(cfg).values["messages"][-1].content == "Done after a retry."
    assert len(openai_server.requests) == 2
    assert openai_server.requests[0] == openai_server.requests[1]


def test_persistent_server_error_is_clear(openai_server: OpenAIServer) -> None:
    openai_server.fail(500, "upstream model crashed", times=3)
    graph = memory_graph(chat_openai(openai_server, max_retries=2))
    cfg = thread()
    with pytest.raises(openai.InternalServerError) as raised:
        graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    assert raised.value.status_code == 500
    assert "upstream model crashed" in str(raised.value)
    assert len(openai_server.requests) == 3  # the first try and two retries
    assert openai_server.pending == 0
    # The reply never came: the thread holds the request and no made-up answer.
    assert [m.type for m in graph.get_state(cfg).values["messages"]] == ["human"]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_token_counts_agree_with_chat_openai(
    model: str, openai_server: OpenAIServer, tiktoken_cache: Path
) -> None:
    openai_server.reply(
        tool_calls=[{"id": "call_1", "name": "lookup", "arguments": {"q": "Lisbon"}}]
    )
    graph = memory_graph(chat_openai(openai_server, model=model))
    cfg = thread()
    graph.invoke(
        {"messages": [HumanMessage("Olá! I'm Ana 🎉, I live in Lisbon. Look it up?")]},
        cfg,
        context=ANA,
    )
    graph.invoke(
        {"messages": [ToolMessage("Lisbon: capital of Portugal", tool_call_id="call_1")]},
        cfg,
        context=ANA,
    )
    package = graph.get_state(cfg).values["context_package"]
    sent = package.to_messages()
    reference = chat_openai(openai_server, model=model).get_num_tokens_from_messages(sent)
    assert TokenCounter(model=model).count_messages(sent) == reference
    if model == "gpt-4o":  # the graph's own counter uses o200k_base, gpt-4o's encoding
        assert package.total_tokens == reference


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
async def test_llm_summarizer_through_chat_openai(
    openai_server: OpenAIServer, method: Literal["function_calling", "json_schema"]
) -> None:
    draft = {
        "user_goal": "Plan a trip to Japan [turn h1]",
        "confirmed_decisions": ["Start in Osaka [turn h2]"],
        "rejected_assumptions": ["Tokyo first [turn h2]"],
        "important_entities": {"booking": "B-77"},
    }
    for _ in range(2):  # one sync call, one async call
        if method == "function_calling":
            openai_server.reply(tool_calls=[{"name": "SummaryDraft", "arguments": draft}])
        else:
            openai_server.reply(json.dumps(draft))
    # An async client of this test's own: langchain-openai caches its default
    # one per process, bound to the first event loop that used it.
    http = httpx.AsyncClient()
    summarizer = LLMSummarizer(chat_openai(openai_server, http_async_client=http), method=method)
    turns = [
        HumanMessage("I want to plan a trip to Japan.", id="h1"),
        HumanMessage("No, not Tokyo first: let's go with Osaka. Booking B-77.", id="h2"),
    ]
    sync = summarizer.summarize(None, turns, max_items=5)
    async with http:
        asyn = await summarizer.asummarize(None, turns, max_items=5)
    assert sync == asyn
    assert sync.confirmed_decisions == ["Start in Osaka [turn h2]"]
    assert sync.rejected_assumptions == ["Tokyo first [turn h2]"]
    assert sync.important_entities == {"booking": "B-77"}
    request = openai_server.requests[-1]
    prompt = request["messages"][-1]["content"]
    assert "[turn h1]" in prompt and "[turn h2]" in prompt
    if method == "function_calling":
        assert request["tools"][0]["function"]["name"] == "SummaryDraft"
    else:
        assert request["response_format"]["json_schema"]["name"] == "SummaryDraft"
