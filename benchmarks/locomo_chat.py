"""Prompt tokens per call when requests refer to the past: a LoCoMo conversation as a chat.

Used by ``bench_growth.py`` (``--locomo-*`` options). Each system gets one
thread per conversation on a SQLite file: every session of the conversation
is one turn (its LoCoMo turns as `HumanMessage`s named after their speaker,
with the session date as ``additional_kwargs["created_at"]``, as
``locomo.py`` feeds them), answered by the fake model; then the
conversation's questions (categories 1 to 4) are asked one per turn, in
order, on the same thread. For each question call: the prompt tokens the
model was sent, and the share of the question's evidence turns that the
prompt holds (``locomo.py``'s EvR test, on the prompt's text), so that fewer
tokens are not mistaken for a better system. memorygraph also reports its
package's recalled tokens.

memorygraph asks for approval before it stores some facts; those requests are
rejected (nothing goes to durable memory), as ``locomo.py`` does.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command
from locomo import Context, Conversation, evidence_recall, load
from systems import (
    CONTEXT,
    FixedReplyModel,
    Subject,
    create_agent_subject,
    langmem_subject,
    memorygraph_subject,
    version_of,
)

from memorygraph import MemoryConfig
from memorygraph.checkpointers import open_checkpointer, open_store


def _invoke_memorygraph(subject: Subject, messages: list[HumanMessage]) -> object:
    graph = subject.graph
    output: Any = graph.invoke({"messages": messages}, subject.config(), context=CONTEXT)
    while isinstance(output, dict) and output.get("__interrupt__"):
        candidates = [c["id"] for i in output["__interrupt__"] for c in i.value["candidates"]]
        resume = Command(resume={"approve": [], "reject": candidates})
        output = graph.invoke(resume, subject.config(), context=CONTEXT)
    return output


def _system(name: str, saver: BaseCheckpointSaver[Any], store: Any) -> Subject:
    if name == "memorygraph":
        return memorygraph_subject(saver, store, MemoryConfig())
    return (create_agent_subject if name == "create_agent" else langmem_subject)(saver)


def _send(subject: Subject, messages: list[HumanMessage]) -> object:
    if subject.name == "memorygraph":
        return _invoke_memorygraph(subject, messages)
    return subject.graph.invoke({"messages": messages}, subject.config())


def run_conversation(
    name: str, conversation: Conversation, sessions: int | None, questions: int, work: Path
) -> dict[str, Any]:
    """One system over one conversation: the sessions fed, then the questions asked."""
    stem = work / f"chat-{name}-{conversation.sample_id}"
    with (
        open_checkpointer(f"sqlite:///{stem}-checkpoints.db") as saver,
        open_store(f"sqlite:///{stem}-store.db") as store,
    ):
        subject = _system(name, saver, store if name == "memorygraph" else None)
        reply = subject.models["reply"]
        reply.keep_prompts = True
        prompts = reply.prompts
        fed = conversation.sessions[:sessions] if sessions else conversation.sessions
        for _, date, turns in fed:
            _send(
                subject,
                [
                    HumanMessage(
                        turn.said, name=turn.speaker, additional_kwargs={"created_at": date}
                    )
                    for turn in turns
                ],
            )
        feed_calls = len(reply.prompt_tokens)
        texts = {turn.dia_id: turn.text for turn in conversation.turns}
        asked = conversation.qa[:questions] if questions else conversation.qa
        tokens: list[int] = []
        recalled: list[int] = []
        evr: list[float] = []
        for qa in asked:
            before = len(reply.prompt_tokens)
            output = _send(subject, [HumanMessage(qa.question)])
            if len(reply.prompt_tokens) == before:
                continue  # no model call (cannot happen with these graphs; kept honest)
            tokens.append(reply.prompt_tokens[-1])
            score = evidence_recall(Context(prompts[-1]), [texts[e] for e in qa.evidence])
            if score is not None:
                evr.append(score)
            packages = len(subject.recalled)
            subject.observe(output)
            recalled += subject.recalled[packages:]
    summary_calls = len(subject.models.get("summary", FixedReplyModel()).prompt_tokens)
    return {
        "feed_calls": feed_calls,
        "question_calls": len(tokens),
        "prompt_tokens": tokens,
        "recalled_tokens": recalled if name == "memorygraph" else [],
        "evidence_recall": evr,
        "summary_calls": summary_calls,
    }


def bench_locomo_chat(
    data: Path,
    conversations: int,
    sessions: int | None,
    questions: int,
    work: Path,
    systems: Sequence[str],
) -> dict[str, Any]:
    """Each system over the first ``conversations`` conversations; figures per system."""
    if not data.exists():
        return {"skipped": f"no LoCoMo data at {data}"}
    loaded = load(data)[:conversations]
    budget = MemoryConfig().token_budget
    results: dict[str, Any] = {
        "conversations": [c.sample_id for c in loaded],
        "sessions": sessions,
        "budget": budget,
        "systems": {},
    }
    for name in systems:
        if name == "langmem" and version_of("langmem") is None:
            results["systems"][name] = {"installed": False}
            continue
        runs = [run_conversation(name, c, sessions, questions, work) for c in loaded]
        print(f"  LoCoMo chat: {name} done", file=sys.stderr, flush=True)
        tokens = [t for run in runs for t in run["prompt_tokens"]]
        recalled = [t for run in runs for t in run["recalled_tokens"]]
        evr = [e for run in runs for e in run["evidence_recall"]]
        results["systems"][name] = {
            "installed": True,
            "feed_calls": sum(run["feed_calls"] for run in runs),
            "question_calls": len(tokens),
            "summary_calls": sum(run["summary_calls"] for run in runs),
            "prompt_tokens_median": statistics.median(tokens) if tokens else None,
            "prompt_tokens_mean": statistics.fmean(tokens) if tokens else None,
            "evidence_recall": statistics.fmean(evr) if evr else None,
            "recalled_share_of_budget": (statistics.fmean(recalled) / budget if recalled else None),
        }
    return results


def print_locomo_chat(results: dict[str, Any]) -> None:
    if "skipped" in results:
        print(f"\nLoCoMo chat skipped: {results['skipped']}")
        return
    sessions = results["sessions"] or "all"
    print(
        f"\nRequests that refer to the past: LoCoMo {', '.join(results['conversations'])} "
        f"({sessions} sessions, one turn each, then its questions, one turn each; SQLite)"
    )
    print(
        f"{'system':<14}{'questions':>10}{'tokens/call':>13}{'mean':>8}{'EvR':>7}"
        f"{'recalled/B':>12}{'summaries':>11}"
    )
    print(
        "(EvR: the share of each question's evidence turns found in the prompt. The anchors'"
        " summaries\n are the fake model's fixed reply, so theirs counts only the turns they"
        " pass verbatim.)"
    )
    for name, row in results["systems"].items():
        if not row["installed"]:
            print(f"{name:<14}  not installed")
            continue
        evr = row["evidence_recall"]
        share = row["recalled_share_of_budget"]
        print(
            f"{name:<14}{row['question_calls']:>10}{row['prompt_tokens_median']:>13.0f}"
            f"{row['prompt_tokens_mean']:>8.0f}"
            f"{(f'{evr:.3f}' if evr is not None else 'n/a'):>7}"
            f"{(f'{share:.1%}' if share is not None else ''):>12}"
            f"{row['summary_calls']:>11}"
        )
