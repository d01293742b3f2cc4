"""Package ids for a fixed set of states, to compare two trees' packers byte for byte.

Run it with each tree's code first on the path and diff the outputs:

    PYTHONPATH=<tree>/src python benchmarks/package_ids.py [LOCOMO_JSON]

Each state is a prefix of LoCoMo conv-26's first sessions (with facts said
along the way, a summary on every other state and a tool call with a large
result on every third), packed at three budgets with a fixed clock.
"""

import hashlib
import json
import sys
from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from memorygraph import MemoryConfig, SessionSummary
from memorygraph.context import Identity
from memorygraph.nodes import build_package, extract_facts_from

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PATH = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/locomo/locomo_dev.json"
data = json.load(open(PATH))
SAID = [
    "I live in Lisbon.",
    "I'm allergic to peanuts.",
    "Actually, I moved to Porto.",
    "My name is Ana.",
    "We decided to start in Osaka.",
]
conv = data[0]["conversation"]
turns = []
for s in range(1, 6):
    for t in conv.get(f"session_{s}", []):
        turns.append((t["speaker"], t["text"], t["dia_id"]))
who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
out = []
for budget in (600, 1500, 4000):
    cfg = MemoryConfig(token_budget=budget, output_reserve=100)
    for n in range(2, len(turns), 7):
        msgs = []
        for i, (sp, text, _did) in enumerate(turns[:n]):
            cls = HumanMessage if i % 2 == 0 else AIMessage
            if i % 10 == 0:
                text = f"{SAID[(i // 10) % len(SAID)]} {text}"
            msgs.append(cls(text, id=f"m{i}", name=sp.replace(" ", "_")))
        if n % 3 == 0:
            call = AIMessage(
                "", id=f"c{n}", tool_calls=[{"name": "look", "args": {"q": n}, "id": f"k{n}"}]
            )
            msgs += [call, ToolMessage("result " * (n * 5), tool_call_id=f"k{n}", id=f"r{n}")]
        state = {"messages": msgs}
        if n % 2 == 0:
            state["summary"] = SessionSummary(
                user_goal="plan the trip " * (n % 9),
                confirmed_decisions=[f"decision {n}"],
                covered_turn_ids=["x"],
                covered_turns=3,
                last_updated_turn_id="x",
            )
        state["facts"] = list(extract_facts_from(msgs, now=NOW).facts)
        try:
            p = build_package(state, identity=who, config=cfg, now=NOW)
            out.append((budget, n, len(state["facts"]), p.id, p.total_tokens))
        except Exception as e:
            out.append((budget, n, len(state["facts"]), type(e).__name__, 0))
for row in out:
    print(*row)
print("digest", hashlib.sha256(repr(out).encode()).hexdigest(), len(out))
