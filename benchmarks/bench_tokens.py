"""Benchmark memorygraph's token counting against raw tiktoken.

Usage: python benchmarks/bench_tokens.py [--json OUT] [--repeats N]

Measures, in one run:

1. Throughput of `TokenCounter.count_text` against `tiktoken.Encoding.encode` on
   the same ~1 MB text, as one string and as 200-character chunks.
2. Repacking a 2,000-turn thread (a ~200-character human message and a
   ~200-character AI message per turn): counting every message after one turn
   is appended, with a warm per-message cache against an uncached counter.

Each figure is the median of several repeats. Results go to stdout and, with
--json, to a file.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tiktoken
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from memorygraph.tokens import TokenCounter, load_encoding

TEXT_BYTES = 1_000_000
CHUNK_CHARS = 200
TURNS = 2_000
MESSAGE_CHARS = 200

_SNIPPETS = [
    "def handler(event: dict) -> dict:\n    return {'status': 200, 'body': event}\n",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Привет, мир! Γειά σου Κόσμε. naïve café résumé.",
    "emoji 🎉👍🏽❤️‍🔥 and numbers 3.14159, 1e10, 2026-11-21.",
    '{"user": "alice", "scopes": ["read", "write"], "ttl": 3600}',
]


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(1, 10))) for _ in range(5_000)]


def make_text(rng: random.Random, size: int) -> str:
    """Mostly English-like prose, with code, JSON, CJK, Cyrillic and emoji mixed in."""
    words = _words(rng)
    parts: list[str] = []
    length = 0
    while length < size:
        if rng.random() < 0.05:
            part = rng.choice(_SNIPPETS)
        else:
            sentence = " ".join(rng.choices(words, k=rng.randint(5, 20)))
            part = sentence.capitalize() + rng.choice([". ", "? ", "! ", ".\n"])
        parts.append(part)
        length += len(part.encode())
    return "".join(parts)


def make_turn(rng: random.Random, words: list[str], turn: int) -> list[BaseMessage]:
    def sentence() -> str:
        out: list[str] = []
        while sum(len(word) + 1 for word in out) < MESSAGE_CHARS:
            out.append(rng.choice(words))
        return " ".join(out)[:MESSAGE_CHARS]

    return [
        HumanMessage(sentence(), id=f"human-{turn}"),
        AIMessage(sentence(), id=f"ai-{turn}"),
    ]


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def bench_text(repeats: int) -> dict[str, Any]:
    rng = random.Random(0)
    text = make_text(rng, TEXT_BYTES)
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    counter = TokenCounter()
    encoding: tiktoken.Encoding = counter.encoding
    n_tokens = len(encoding.encode(text, disallowed_special=()))
    assert counter.count_text(text) == n_tokens

    results: dict[str, Any] = {
        "bytes": len(text.encode()),
        "tokens": n_tokens,
        "chunks": len(chunks),
    }
    # Every case counts (keeps only the length), so they allocate alike.
    cases: dict[str, Callable[[], object]] = {
        "tiktoken_one_string": lambda: len(encoding.encode(text, disallowed_special=())),
        "ordinary_one_string": lambda: len(encoding.encode_ordinary(text)),
        "counter_one_string": lambda: counter.count_text(text),
        "tiktoken_chunks": lambda: [len(encoding.encode(c, disallowed_special=())) for c in chunks],
        "ordinary_chunks": lambda: [len(encoding.encode_ordinary(c)) for c in chunks],
        "counter_chunks": lambda: [counter.count_text(c) for c in chunks],
    }
    for function in cases.values():
        function()  # warm up
    # Round-robin over the cases, so that a noisy neighbour slows them all alike.
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            times[name] += timed(function, 1)
    for name in cases:
        results[name + "_s"] = statistics.median(times[name])
    for shape in ("one_string", "chunks"):
        seconds = results[f"counter_{shape}_s"]
        results[f"counter_{shape}_tokens_per_s"] = n_tokens / seconds
        results[f"counter_{shape}_mb_per_s"] = results["bytes"] / seconds / 1e6
        results[f"{shape}_ratio_counter_over_tiktoken"] = seconds / results[f"tiktoken_{shape}_s"]
    return results


def bench_repack(repeats: int) -> dict[str, Any]:
    rng = random.Random(1)
    words = _words(rng)
    messages: list[BaseMessage] = []
    for turn in range(TURNS):
        messages += make_turn(rng, words, turn)

    warm = TokenCounter()
    warm.count_messages(messages)
    uncached = TokenCounter(cache_size=0)

    warm_times: list[float] = []
    uncached_times: list[float] = []
    chars4_times: list[float] = []
    for repeat in range(repeats):
        messages += make_turn(rng, words, TURNS + repeat)

        start = time.perf_counter()
        warm_total = warm.count_messages(messages)
        warm_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        uncached_total = uncached.count_messages(messages)
        uncached_times.append(time.perf_counter() - start)
        assert warm_total == uncached_total

        start = time.perf_counter()
        sum(len(str(message.content)) // 4 for message in messages)
        chars4_times.append(time.perf_counter() - start)

    info = warm.cache_info()
    warm_s = statistics.median(warm_times)
    uncached_s = statistics.median(uncached_times)
    return {
        "messages": len(messages),
        "tokens": warm_total,
        "warm_s": warm_s,
        "uncached_s": uncached_s,
        "chars_over_4_s": statistics.median(chars4_times),
        "ratio_uncached_over_warm": uncached_s / warm_s,
        "warm_us_per_message": warm_s / len(messages) * 1e6,
        "uncached_us_per_message": uncached_s / len(messages) * 1e6,
        "warm_cache_misses": info.misses,
        "warm_cache_hits": info.hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--repeats", type=int, default=9, help="repeats per figure (median)")
    args = parser.parse_args()

    start = time.perf_counter()
    load_encoding("o200k_base")
    cold_load_s = time.perf_counter() - start

    text = bench_text(args.repeats)
    repack = bench_repack(args.repeats)
    results = {
        "python": platform.python_version(),
        "tiktoken": tiktoken.__version__,
        "machine": platform.machine(),
        "repeats": args.repeats,
        "cold_load_o200k_s": cold_load_s,
        "text": text,
        "repack": repack,
    }

    print(f"load_encoding('o200k_base'), cold: {cold_load_s * 1e3:.0f} ms")
    print(
        f"\nText: {text['bytes'] / 1e6:.2f} MB, {text['tokens']:,} tokens "
        f"(median of {args.repeats})"
    )
    print(
        f"{'shape':<18}{'encode()':>12}{'encode_ordinary':>17}{'TokenCounter':>14}"
        f"{'ratio':>7}{'M tok/s':>9}{'MB/s':>7}"
    )
    for shape, label in (("one_string", "one 1 MB string"), ("chunks", "200-char chunks")):
        print(
            f"{label:<18}"
            f"{text[f'tiktoken_{shape}_s'] * 1e3:>9.0f} ms"
            f"{text[f'ordinary_{shape}_s'] * 1e3:>14.0f} ms"
            f"{text[f'counter_{shape}_s'] * 1e3:>11.0f} ms"
            f"{text[f'{shape}_ratio_counter_over_tiktoken']:>7.2f}"
            f"{text[f'counter_{shape}_tokens_per_s'] / 1e6:>9.2f}"
            f"{text[f'counter_{shape}_mb_per_s']:>7.1f}"
        )
    print(
        f"\nRepack: {repack['messages']:,} messages, {repack['tokens']:,} tokens, "
        "one turn appended each time"
    )
    print(f"{'counter':<26}{'time':>10}{'per message':>14}")
    print(
        f"{'warm cache':<26}{repack['warm_s'] * 1e3:>7.1f} ms"
        f"{repack['warm_us_per_message']:>11.2f} us"
    )
    print(
        f"{'uncached (cache_size=0)':<26}{repack['uncached_s'] * 1e3:>7.1f} ms"
        f"{repack['uncached_us_per_message']:>11.2f} us"
    )
    print(f"{'chars/4 estimate':<26}{repack['chars_over_4_s'] * 1e3:>7.1f} ms")
    print(f"uncached / warm: {repack['ratio_uncached_over_warm']:.1f}x")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
