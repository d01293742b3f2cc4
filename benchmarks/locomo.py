"""LoCoMo recall: does the package for a question hold the turns that answer it?

The protocol is ../shared/data/locomo/README.md, followed exactly:

* One thread per conversation, fed through the public API: each session's
  turns in one ``invoke``, as ``HumanMessage``s whose ``name`` is the speaker
  and whose ``additional_kwargs["created_at"]`` is the session's date, with
  ``model=None``. Approvals the graph asks for are rejected (nothing is added
  to durable memory), as a cautious user would.
* Each question is asked as a fork of the thread's final checkpoint (its
  ``checkpoint_id`` in the config), so questions never see each other. The
  rendered package of that turn is what is scored.
* Budgets B are tokens of o200k_base for the whole rendered package, so the
  questions run with ``MemoryConfig(token_budget=B, output_reserve=0)``. A
  package over B is a violation, never cut.
* EvR (evidence recall) and AnsR (answer recall) per QA, averaged per category
  and overall; category 5 (adversarial) is left out.

Three baselines run on the same turns, questions and budgets, each rendered
as one context message (session date lines, ``speaker: text`` lines) plus the
question, and counted the same way: the most recent turns that fit (sliding
window), BM25 over turns with the question as query, and BM25 with each hit's
neighbouring turns.

Usage:
    python benchmarks/locomo.py [--data PATH] [--budgets 1000,2000,4000]
        [--recall auto|lexical] [--profile default|recall-first] [--json OUT]
        [--conversations N] [--questions N] [--no-baselines] [--package-timing]
        [--set FIELD=JSON ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import string
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from memorygraph import MemoryConfig, MemoryContext, TokenCounter, create_memory_graph
from memorygraph.context import Identity
from memorygraph.packing import build_package
from memorygraph.retrieval import default_retriever, recall_items

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TENANT = "locomo"

# MemoryConfig settings besides the budget, the same for every conversation.
# "recall-first" is for an assistant whose requests are mostly about the past:
# most of the budget goes to recall, and the working window is folded into the
# archive (where recall can find it) down to what the recent-turn share holds.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "recall-first": {
        "shares": {
            "recalled": 0.7,
            "recent_turn": 0.1,
            "fact": 0.05,
            "summary": 0.05,
            "task_state": 0.05,
            "tool_result": 0.05,
        },
        "summarize_at_tokens": 0.2,
        "keep_tokens": 0.1,
    },
}

# ------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Turn:
    dia_id: str
    session: int
    speaker: str
    text: str
    date: str
    caption: str = ""  # BLIP's caption of a photo shared with the turn, if any

    @property
    def said(self) -> str:
        """What is sent: the text, and the shared photo as its caption (``--captions``)."""
        return f"{self.text} [shares {self.caption}]" if self.caption else self.text

    def line(self) -> str:
        return f"{self.speaker}: {self.said}"


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    category: int
    evidence: tuple[str, ...]  # normalised ids that exist in the conversation


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    sessions: tuple[tuple[int, str, tuple[Turn, ...]], ...]  # (number, date, turns)
    qa: tuple[QA, ...]

    @property
    def turns(self) -> list[Turn]:
        return [turn for _, _, turns in self.sessions for turn in turns]


_EVIDENCE = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")


def evidence_ids(raw: Iterable[object], known: set[str]) -> tuple[str, ...]:
    """Normalise evidence ids (``D:3:5`` -> ``D3:5``, several per string), drop unknown ones."""
    ids: list[str] = []
    for entry in raw:
        for match in _EVIDENCE.finditer(str(entry)):
            dia_id = f"D{int(match.group(1))}:{int(match.group(2))}"
            if dia_id in known and dia_id not in ids:
                ids.append(dia_id)
    return tuple(ids)


def load(path: Path, *, captions: bool = False) -> list[Conversation]:
    """Read conversations in LoCoMo's format.

    With ``captions``, a turn that shares a photo carries the photo's
    ``blip_caption`` (sent as "... [shares a photo of ...]", as LoCoMo's own
    evaluation shows photos to text-only models); evidence is still matched on
    the turn's text alone.
    """
    conversations = []
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        numbers = sorted(
            int(m.group(1)) for key in conv if (m := re.fullmatch(r"session_(\d+)", key))
        )
        sessions = []
        for number in numbers:
            date = conv.get(f"session_{number}_date_time", "")
            turns = tuple(
                Turn(
                    t["dia_id"],
                    number,
                    t["speaker"],
                    t["text"],
                    date,
                    str(t.get("blip_caption") or "") if captions else "",
                )
                for t in conv[f"session_{number}"] or ()
            )
            if turns:
                sessions.append((number, date, turns))
        known = {turn.dia_id for _, _, turns in sessions for turn in turns}
        qa = tuple(
            QA(
                q["question"],
                str(q.get("answer", "")),
                int(q["category"]),
                evidence_ids(q.get("evidence") or (), known),
            )
            for q in sample["qa"]
            if int(q["category"]) in CATEGORIES
        )
        conversations.append(Conversation(sample["sample_id"], tuple(sessions), qa))
    return conversations


# --------------------------------------------------------------------------- scoring

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """NFKC, lowercase, every run of non-alphanumerics to one space."""
    return _NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def _trigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


class Context:
    """A rendered package, normalised once for both metrics."""

    def __init__(self, text: str) -> None:
        words = normalise(text).split()
        self.padded = f" {' '.join(words)} "
        self.trigrams = _trigrams(words)
        self.squad = f" {squad_normalise(text)} "

    def holds_turn(self, text: str) -> bool:
        words = normalise(text).split()
        if len(words) >= 3:
            grams = _trigrams(words)
            return sum(gram in self.trigrams for gram in grams) >= 0.5 * len(grams)
        return f" {' '.join(words)} " in self.padded if words else True


def evidence_recall(context: Context, texts: Sequence[str]) -> float | None:
    if not texts:
        return None
    return sum(context.holds_turn(text) for text in texts) / len(texts)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
_CHANCE = {"yes", "no", "likely", "maybe", "true", "false"}


def squad_normalise(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, no punctuation, no articles."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _by_chance(words: Sequence[str]) -> bool:
    return all(w in _CHANCE or (w.isdigit() and int(w) < 100) for w in words)


def answer_parts(answer: str, category: int) -> list[str]:
    """The parts of an answer that AnsR looks for (at most 5 words each)."""
    if category == 3:
        answer = answer.split(";")[0]
    parts = re.split(r",|;| and ", answer) if category == 1 else [answer]
    kept = []
    for part in parts:
        words = squad_normalise(part).split()
        if 1 <= len(words) <= 5 and not _by_chance(words):
            kept.append(" ".join(words))
    return kept


def answer_recall(context: Context, answer: str, category: int) -> float | None:
    parts = answer_parts(answer, category)
    if not parts:
        return None
    return sum(f" {part} " in context.squad for part in parts) / len(parts)


# --------------------------------------------------------------------------- systems


@dataclass
class Result:
    category: int
    evr: float | None
    ansr: float | None
    seconds: float  # to get the package, end to end
    pack_seconds: float  # of that, building it (memorygraph: the pack_context node)
    tokens: int
    budget: int
    kinds: dict[str, int]  # memorygraph: the package's tokens by item kind


def _content(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(m.content if isinstance(m, str) else str(m.content) for m in messages)


class System:
    name = ""
    pack_seconds = 0.0  # set by `package`, when the system can tell
    kinds: dict[str, int] = {}  # tokens by item kind, set by `package` when the system can tell

    def prepare(self, conversation: Conversation) -> None:  # once per conversation
        raise NotImplementedError

    def package(self, question: str, budget: int) -> list[BaseMessage]:
        raise NotImplementedError


class MemoryGraphSystem(System):
    """memorygraph through its public API: one thread, questions as forks."""

    def __init__(
        self, recall: str, profile: str = "default", overrides: dict[str, Any] | None = None
    ) -> None:
        self.recall = recall
        self.options = {**PROFILES[profile], **(overrides or {})}
        retriever = default_retriever(InMemoryStore(), recall)
        self.name = f"memorygraph ({retriever.name if retriever else 'no recall'}, {profile})"
        self.graphs: dict[int, Any] = {}

    def prepare(self, conversation: Conversation) -> None:
        self.saver = InMemorySaver()
        self.store = InMemoryStore()
        self.context = MemoryContext(tenant_id=TENANT, user_id=conversation.sample_id)
        self.thread = {"configurable": {"thread_id": conversation.sample_id}}
        self.graphs = {}
        graph = create_memory_graph(
            checkpointer=self.saver, store=self.store, config=self._config(None)
        )
        for _, date, turns in conversation.sessions:
            messages = [
                HumanMessage(turn.said, name=turn.speaker, additional_kwargs={"created_at": date})
                for turn in turns
            ]
            self._run(graph, {"messages": messages}, self.thread)
        self.final = graph.get_state(self.thread).config

    def _config(self, budget: int | None) -> MemoryConfig:
        options: dict[str, Any] = {"recall": self.recall, **self.options}
        if budget is not None:
            options |= {"token_budget": budget, "output_reserve": 0}
        return MemoryConfig(**options)

    def _run(self, graph: Any, graph_input: Any, config: Any) -> dict[str, Any]:
        """Run to the end; return the final state, timing the pack_context node."""
        while True:
            values: dict[str, Any] = {}
            interrupts: list[Any] = []
            started: dict[str, float] = {}
            for mode, chunk in graph.stream(
                graph_input,
                config,
                context=self.context,
                stream_mode=["values", "updates", "debug"],
            ):
                if mode == "values":
                    values = chunk
                elif mode == "updates" and "__interrupt__" in chunk:
                    interrupts += chunk["__interrupt__"]
                elif mode == "debug" and chunk["payload"].get("name") == "pack_context":
                    moment = _timestamp(chunk["timestamp"])
                    if chunk["type"] == "task":
                        started["pack"] = moment
                    elif chunk["type"] == "task_result" and "pack" in started:
                        self.pack_seconds = moment - started["pack"]
            if not interrupts:
                return values
            # The graph asks a human to approve durable memory: say no, and go on
            # from the checkpoint it stopped at (named, so nothing is pruned).
            candidates = [c["id"] for i in interrupts for c in i.value["candidates"]]
            graph_input = Command(resume={"approve": [], "reject": candidates})
            config = graph.get_state(self.thread).config

    def time_package(self, questions: Sequence[str], budget: int) -> dict[str, Any]:
        """Time recall and `build_package`, called directly on the final state.

        The node's time from the debug stream also holds LangGraph's own work
        and the durable-fact search; this is the package alone. Each question is
        packed twice and the second time is kept: the first fills the caches
        that every later turn finds filled.
        """
        config = self._config(budget)
        graph = create_memory_graph(checkpointer=self.saver, store=self.store, config=config)
        state = dict(graph.get_state(self.final).values)
        summary = state.get("summary")
        archived = summary.covered_turns if summary is not None else 0
        last_id = summary.last_updated_turn_id if summary is not None else None
        retriever = default_retriever(self.store, config.recall)
        assert retriever is not None
        thread = (TENANT, self.context.user_id, self.thread["configurable"]["thread_id"])
        who = Identity(thread_id=thread[2], tenant_id=TENANT, user_id=thread[1], scopes=())
        counter = TokenCounter(config.encoding)
        recall_ms: list[float] = []
        package_ms: list[float] = []
        package_cpu_ms: list[float] = []  # CPU time: what a loaded machine inflates least
        for question in questions:
            asked = {**state, "messages": [*state["messages"], HumanMessage(question, id="q")]}
            for _ in range(2):
                began = time.perf_counter()
                recalled = recall_items(
                    self.store,
                    thread,
                    question,
                    archived=archived,
                    last_id=last_id,
                    retriever=retriever,
                    config=config,
                    counter=counter,
                    pending=state["messages"],
                )
                middle, cpu = time.perf_counter(), time.process_time()
                build_package(
                    asked, identity=who, config=config, counter=counter, extra_items=recalled
                )
                ended, cpu_ended = time.perf_counter(), time.process_time()
            recall_ms.append((middle - began) * 1000)
            package_ms.append((ended - middle) * 1000)
            package_cpu_ms.append((cpu_ended - cpu) * 1000)
        both = [a + b for a, b in zip(recall_ms, package_ms, strict=True)]
        return {
            "questions": len(questions),
            "facts": len(state.get("facts") or ()),
            "archived_turns": archived,
            "recall_median_ms": round(statistics.median(recall_ms), 2),
            "build_package_median_ms": round(statistics.median(package_ms), 2),
            "build_package_p95_ms": round(_percentile(package_ms, 0.95), 2),
            "build_package_cpu_median_ms": round(statistics.median(package_cpu_ms), 2),
            "both_median_ms": round(statistics.median(both), 2),
        }

    def package(self, question: str, budget: int) -> list[BaseMessage]:
        graph = self.graphs.get(budget)
        if graph is None:
            graph = self.graphs[budget] = create_memory_graph(
                checkpointer=self.saver, store=self.store, config=self._config(budget)
            )
        result = self._run(graph, {"messages": [HumanMessage(question)]}, self.final)
        package = result["context_package"]
        self.kinds = package.tokens_by_kind()
        messages: list[BaseMessage] = package.to_messages()
        return messages


def _timestamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def _tokenize(texts: list[str]) -> list[list[str]]:
    tokens: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", return_ids=False, show_progress=False
    )
    return tokens


class Baseline(System):
    """Turns chosen by a rule, rendered as plain lines, filled while they fit."""

    def __init__(self, name: str, neighbours: int | None) -> None:
        self.name = name
        self.neighbours = neighbours  # None: sliding window
        self.counter = TokenCounter()

    def prepare(self, conversation: Conversation) -> None:
        self.turns = conversation.turns
        self.tokens = [self.counter.count_text(turn.line() + "\n") for turn in self.turns]
        if self.neighbours is not None:
            self.bm25 = bm25s.BM25()
            self.bm25.index(_tokenize([turn.said for turn in self.turns]), show_progress=False)

    def _order(self, question: str) -> list[int]:
        if self.neighbours is None:
            return list(range(len(self.turns) - 1, -1, -1))
        ids = self.bm25.get_tokens_ids(_tokenize([question])[0])
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        hits = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
        order: list[int] = []
        for hit in hits:
            for i in range(hit - self.neighbours, hit + self.neighbours + 1):
                if 0 <= i < len(self.turns) and self.turns[i].session == self.turns[hit].session:
                    order.append(i)
        return list(dict.fromkeys(order))

    def _render(self, chosen: Iterable[int], question: str) -> list[BaseMessage]:
        lines: list[str] = []
        session = None
        for i in sorted(chosen):
            turn = self.turns[i]
            if turn.session != session:
                session = turn.session
                lines.append(f"[{turn.date}]")
            lines.append(turn.line())
        return [HumanMessage("\n".join(lines)), HumanMessage(question)]

    def package(self, question: str, budget: int) -> list[BaseMessage]:
        chosen: list[int] = []
        base = self.counter.count_messages(self._render([], question))
        spent = base
        for i in self._order(question):
            # a session's date line costs about 12 tokens; counted exactly below
            if spent + self.tokens[i] + 12 <= budget:
                chosen.append(i)
                spent += self.tokens[i] + (
                    12
                    if all(self.turns[c].session != self.turns[i].session for c in chosen[:-1])
                    else 0
                )
        messages = self._render(chosen, question)
        while chosen and self.counter.count_messages(messages) > budget:
            chosen.pop()
            messages = self._render(chosen, question)
        return messages


# ------------------------------------------------------------------------------- run


def run_system(
    system: System,
    conversations: Sequence[Conversation],
    budgets: Sequence[int],
    *,
    questions: int | None,
    progress: Callable[[str], None],
    timings: dict[str, Any] | None = None,
) -> list[Result]:
    counter = TokenCounter()
    results: list[Result] = []
    for conversation in conversations:
        started = time.perf_counter()
        system.prepare(conversation)
        texts = {turn.dia_id: turn.text for turn in conversation.turns}
        asked = conversation.qa[:questions] if questions else conversation.qa
        progress(
            f"{system.name}: {conversation.sample_id}, {len(conversation.turns)} turns ready in "
            f"{time.perf_counter() - started:.1f} s; {len(asked)} questions"
        )
        if timings is not None and isinstance(system, MemoryGraphSystem):
            for budget in budgets:
                timed = system.time_package([qa.question for qa in asked], budget)
                timings[f"{conversation.sample_id} B={budget}"] = timed
                progress(f"  package timing, B={budget}: {timed}")
        for budget in budgets:
            for qa in asked:
                began = time.perf_counter()
                system.pack_seconds = 0.0
                system.kinds = {}
                messages = system.package(qa.question, budget)
                seconds = time.perf_counter() - began
                context = Context(_content(messages))
                results.append(
                    Result(
                        category=qa.category,
                        evr=evidence_recall(context, [texts[i] for i in qa.evidence]),
                        ansr=answer_recall(context, qa.answer, qa.category),
                        seconds=seconds,
                        pack_seconds=system.pack_seconds or seconds,
                        tokens=counter.count_messages(messages),
                        budget=budget,
                        kinds=dict(system.kinds),
                    )
                )
    return results


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.fmean(kept), 4) if kept else None


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summarise(results: Sequence[Result]) -> dict[str, Any]:
    def block(rows: Sequence[Result]) -> dict[str, Any]:
        times = [r.seconds * 1000 for r in rows]
        packs = [r.pack_seconds * 1000 for r in rows]
        return {
            "qa": len(rows),
            "evr": _mean(r.evr for r in rows),
            "ansr": _mean(r.ansr for r in rows),
            "median_ms": round(statistics.median(packs), 2) if packs else None,
            "p95_ms": round(_percentile(packs, 0.95), 2) if packs else None,
            "median_total_ms": round(statistics.median(times), 2) if times else None,
            "p95_total_ms": round(_percentile(times, 0.95), 2) if times else None,
            "violations": sum(r.tokens > r.budget for r in rows),
            "max_tokens": max((r.tokens for r in rows), default=0),
            "mean_tokens_by_kind": {
                kind: round(statistics.fmean(r.kinds.get(kind, 0) for r in rows), 1)
                for kind in sorted({kind for r in rows for kind in r.kinds})
            },
        }

    out: dict[str, Any] = {}
    for budget in sorted({r.budget for r in results}):
        rows = [r for r in results if r.budget == budget]
        out[str(budget)] = {
            "overall": block(rows),
            "by_category": {
                CATEGORIES[c]: block([r for r in rows if r.category == c])
                for c in sorted(CATEGORIES)
                if any(r.category == c for r in rows)
            },
        }
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(report: dict[str, Any]) -> str:
    lines = [
        "| system | B | category | QA | EvR | AnsR | median ms | p95 ms | median total ms "
        "| violations |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, budgets in report["systems"].items():
        for budget, data in budgets.items():
            for label, row in [("all", data["overall"]), *data["by_category"].items()]:
                lines.append(
                    f"| {name} | {budget} | {label} | {row['qa']} | {_fmt(row['evr'])} | "
                    f"{_fmt(row['ansr'])} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} | "
                    f"{row['median_total_ms']:.1f} | {row['violations']} |"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a file in LoCoMo's format")
    parser.add_argument("--budgets", default="1000,2000,4000", help="comma-separated token budgets")
    parser.add_argument("--recall", choices=["auto", "lexical"], default="auto")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--conversations", type=int, help="only the first N conversations")
    parser.add_argument("--questions", type=int, help="only the first N questions of each")
    parser.add_argument("--no-baselines", action="store_true", help="run memorygraph only")
    parser.add_argument(
        "--package-timing",
        action="store_true",
        help="also time recall and build_package called directly, per conversation and budget",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="default",
        help="memorygraph's MemoryConfig besides the budget (see PROFILES)",
    )
    parser.add_argument(
        "--captions",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="send a shared photo's caption with its turn, to every system (evidence is "
        "still matched on the turn's text)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override one MemoryConfig field, e.g. --set recall_min_coverage=0 (repeatable)",
    )
    args = parser.parse_args(argv)
    overrides = {
        field: json.loads(value) for field, value in (item.split("=", 1) for item in args.set)
    }

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    conversations = load(args.data, captions=args.captions)[: args.conversations]
    systems: list[System] = [MemoryGraphSystem(args.recall, args.profile, overrides)]
    if not args.no_baselines:
        systems += [
            Baseline("sliding window", None),
            Baseline("bm25", 0),
            Baseline("bm25+neighbours", 1),
        ]

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    report: dict[str, Any] = {
        "protocol": "shared/data/locomo/README.md",
        "data": str(args.data),
        "conversations": [c.sample_id for c in conversations],
        "budgets": budgets,
        "recall": args.recall,
        "captions": args.captions,
        "profile": {args.profile: PROFILES[args.profile]},
        "overrides": overrides,
        "python": platform.python_version(),
        "systems": {},
    }
    for system in systems:
        timings: dict[str, Any] | None = {} if args.package_timing else None
        results = run_system(
            system,
            conversations,
            budgets,
            questions=args.questions,
            progress=progress,
            timings=timings,
        )
        report["systems"][system.name] = summarise(results)
        if timings:
            report["package_timing"] = timings
    print(table(report))
    violations = sum(
        data["overall"]["violations"] for s in report["systems"].values() for data in s.values()
    )
    print(f"\nbudget violations: {violations}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
