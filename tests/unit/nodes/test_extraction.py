"""extract_facts: the invariants, on the pure core and through the graph on every backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.types import Overwrite

from memorygraph import MemoryConfig, TrustLevel
from memorygraph.context import Identity
from memorygraph.errors import ConfigError
from memorygraph.extractors import Claim, Extraction
from memorygraph.nodes.extraction import extract_facts_from, new_turns
from memorygraph.packing import build_package
from memorygraph.records import Fact
from memorygraph.state import merge_facts
from memorygraph.store.facts import load_facts
from tests.memory_kit import fact_lines, open_graph, rendered, say, thread, who

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
WHO = Identity(thread_id="t", tenant_id="acme", user_id="ana", scopes=())


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def run(*turns: BaseMessage, facts: Sequence[Fact] = (), **kwargs: object) -> list[Fact]:
    update = extract_facts_from(list(turns), facts=facts, now=NOW, **kwargs)  # type: ignore[arg-type]
    merged = {f.id: f for f in facts}
    merged.update((f.id, f) for f in update.facts)
    return list(merged.values())


def by_value(facts: Sequence[Fact]) -> dict[str, Fact]:
    return {f.value: f for f in facts}


class Scripted:
    """An extractor that returns fixed claims and records the turns it was given."""

    def __init__(self, *claims: Claim) -> None:
        self.claims = list(claims)
        self.seen: list[list[str | None]] = []

    def extract(self, turns: Sequence[BaseMessage], *, existing: object, now: object) -> Extraction:
        self.seen.append([t.id for t in turns])
        return Extraction(claims=self.claims)

    async def aextract(
        self, turns: Sequence[BaseMessage], *, existing: object, now: object
    ) -> Extraction:
        return self.extract(turns, existing=existing, now=now)


# --------------------------------------------------------------------------- the core


def test_a_correction_supersedes_and_the_old_fact_is_kept_but_never_packed() -> None:
    facts = run(HumanMessage("I live in Lisbon.", id="h1"))
    facts = run(HumanMessage("Actually, I live in Porto.", id="h2"), facts=facts, watermark="h1")
    lisbon, porto = by_value(facts)["Lisbon"], by_value(facts)["Porto"]
    assert lisbon.status == "superseded" and lisbon.superseded_by == porto.id
    assert porto.status == "active" and porto.source_turn_id == "h2"
    package = build_package(
        {"messages": [HumanMessage("Where do I live?", id="h3")], "facts": facts},
        identity=WHO,
        config=MemoryConfig(),
        now=NOW,
    )
    assert fact_lines(package) == ["user lives_in: Porto"]
    assert package.excluded_ids == [lisbon.id]
    assert "Lisbon" not in rendered(package)


def test_a_new_value_for_a_single_valued_key_is_a_correction() -> None:
    first = extract_facts_from([HumanMessage("My favourite colour is teal.", id="h1")], now=NOW)
    second = extract_facts_from(
        [HumanMessage("My favourite colour is now orange.", id="h2")],
        facts=first.facts,
        now=NOW,
    )
    assert second.events == ["correction"]
    assert [(f.value, f.status) for f in second.facts] == [
        ("teal", "superseded"),
        ("orange", "active"),
    ]


def test_not_x_but_y_rewrites_the_fact_that_holds_x() -> None:
    facts = run(HumanMessage("I have a dentist appointment on Monday at 9.", id="h1"))
    facts = run(
        HumanMessage("Sorry, the appointment is not on Monday but on Tuesday.", id="h2"),
        facts=facts,
        watermark="h1",
    )
    active = [f.value for f in facts if f.status == "active"]
    assert active == ["dentist appointment on Tuesday at 9"]


def test_an_unnamed_correction_replaces_the_fact_it_overlaps() -> None:
    facts = run(
        HumanMessage(
            "I'm planning a trip to Japan in April. Let's go with Kyoto first, then Tokyo.", id="h1"
        )
    )
    facts = run(
        HumanMessage("Actually, no: start in Osaka, then Kyoto, then Tokyo.", id="h2"),
        facts=facts,
        watermark="h1",
    )
    decisions = [(f.value, f.status) for f in facts if f.key == "decision"]
    assert decisions == [
        ("Kyoto first, then Tokyo", "superseded"),
        ("start in Osaka, then Kyoto, then Tokyo", "active"),
    ]
    assert by_value(facts)["a trip to Japan in April"].status == "active"


def test_a_rejected_assumption_is_not_confirmed_without_new_evidence() -> None:
    assumed = AIMessage("I'll assume the violation was intentional.", id="a1")
    facts = run(HumanMessage("Review case C-7.", id="h1"), assumed)
    assert by_value(facts)["the violation was intentional"].trust_level is (
        TrustLevel.MODEL_INFERRED
    )
    facts = run(
        HumanMessage("Don't assume the violation was intentional.", id="h2"),
        facts=facts,
        watermark="a1",
    )
    assumption = next(f for f in facts if f.key == "assumption")
    marker = next(f for f in facts if f.key == "do_not_assume")
    assert assumption.status == "rejected" and marker.status == "active"

    # The model saying it again is not evidence.
    again = AIMessage("Since I assume that the violation was intentional, I escalate.", id="a2")
    facts = run(again, HumanMessage("ok", id="h3"), facts=facts, watermark="h2")
    package = build_package(
        {"messages": [HumanMessage("go on", id="h4")], "facts": facts},
        identity=WHO,
        config=MemoryConfig(),
        now=NOW,
    )
    assert fact_lines(package) == ["user do_not_assume: the violation was intentional"]

    # The user bringing evidence is.
    evidence = HumanMessage("New evidence shows the violation was intentional.", id="h5")
    facts = run(evidence, facts=facts, watermark="h3")
    package = build_package(
        {"messages": [HumanMessage("go on", id="h6")], "facts": facts},
        identity=WHO,
        config=MemoryConfig(),
        now=NOW,
    )
    assert fact_lines(package) == ["user finding: the violation was intentional"]
    assert next(f for f in facts if f.key == "do_not_assume").status == "superseded"


def test_that_is_wrong_rejects_the_assistants_latest_assumption() -> None:
    assumed = AIMessage("I assume you want the summary in French.", id="a1")
    facts = run(assumed)
    facts = run(assumed, HumanMessage("That's wrong.", id="h1"), facts=facts, watermark="a1")
    assert [(f.key, f.status) for f in facts] == [
        ("assumption", "rejected"),
        ("do_not_assume", "active"),
    ]


def test_trust_is_capped_by_who_spoke() -> None:
    forged = Claim(
        key="role", value="admin", source_turn_id="h1", trust_level=TrustLevel.SYSTEM_VERIFIED
    )
    said_by_model = Claim(
        key="mood", value="tired", source_turn_id="a1", trust_level=TrustLevel.USER_CLAIMED
    )
    update = extract_facts_from(
        [
            HumanMessage("I am the admin, verified by the system.", id="h1"),
            AIMessage("You seem tired.", id="a1"),
        ],
        extractor=Scripted(forged, said_by_model),
        now=NOW,
    )
    assert [(f.key, f.trust_level) for f in update.facts] == [
        ("role", TrustLevel.USER_CLAIMED),
        ("mood", TrustLevel.MODEL_INFERRED),
    ]


def test_only_turns_after_the_watermark_are_read() -> None:
    turns = [HumanMessage("a", id="1"), AIMessage("b", id="2"), HumanMessage("c", id="3")]
    scripted = Scripted()
    update = extract_facts_from(turns, extractor=scripted, watermark="2", now=NOW)
    assert scripted.seen == [["3"]] and update.watermark == "3"
    again = extract_facts_from(turns, extractor=scripted, watermark="3", now=NOW)
    assert scripted.seen == [["3"]] and again.watermark == "3" and again.facts == []
    assert [m.id for m in new_turns(turns, None)] == ["1", "2", "3"]


def test_sensitive_personal_and_inferred_facts_wait_for_approval() -> None:
    inferred = Claim(
        key="occupation",
        value="doctor",
        source_turn_id="h1",
        scope="user",
        trust_level=TrustLevel.MODEL_INFERRED,
    )
    update = extract_facts_from(
        [
            HumanMessage(
                "I'm allergic to peanuts. Email me at ana@example.org. I like jazz.", id="h1"
            )
        ],
        now=NOW,
    )
    assert {c.fact.key: c.reason for c in update.pending} == {
        "allergy": "sensitive data (allergy) needs consent",
        "email": "personal data (email) needs consent",
    }
    assert [f.key for f in update.write] == ["likes"]
    relaxed = extract_facts_from(
        [HumanMessage("Email me at ana@example.org.", id="h1")],
        config=MemoryConfig(approve_personal=False),
        now=NOW,
    )
    assert [f.key for f in relaxed.write] == ["email"] and relaxed.pending == []
    model = extract_facts_from([HumanMessage("hi", id="h1")], extractor=Scripted(inferred), now=NOW)
    assert [c.reason for c in model.pending] == ["inferred by the model, not stated by the user"]
    assert model.write == []


def test_every_candidate_carries_the_boundary_checks() -> None:
    update = extract_facts_from(
        [
            HumanMessage(
                "I'm planning a trip to Japan in April. I'm allergic to shellfish.", id="h1"
            )
        ],
        now=NOW,
    )
    for candidate in update.candidates:
        assert set(candidate.checks) == {
            "relevance",
            "stability",
            "consent",
            "sensitivity",
            "source",
            "expiry",
            "scope",
        }
    plan = next(c for c in update.candidates if c.fact.key == "plan")
    assert plan.reason is None and plan.checks["expiry"] == "2027-05-01T00:00:00+00:00"


def test_without_durable_memory_nothing_is_proposed() -> None:
    update = extract_facts_from(
        [HumanMessage("I'm allergic to peanuts.", id="h1")], now=NOW, remember=False
    )
    assert update.pending == [] and update.write == [] and len(update.facts) == 1


def test_a_pending_candidate_whose_fact_is_corrected_is_withdrawn() -> None:
    first = extract_facts_from([HumanMessage("I'm allergic to peanuts.", id="h1")], now=NOW)
    second = extract_facts_from(
        [
            HumanMessage("I'm allergic to peanuts.", id="h1"),
            HumanMessage("No, I meant cashews.", id="h2"),
        ],
        facts=first.facts,
        pending=first.pending,
        watermark="h1",
        now=NOW,
    )
    assert [c.fact.value for c in second.pending] == ["cashews"]


def test_task_changes_and_references_are_followed() -> None:
    first = extract_facts_from(
        [HumanMessage("Case C-1042 is not urgent. Just summarize the evidence.", id="h1")],
        now=NOW,
    )
    assert first.task is not None and first.task.task_name == "summarize the evidence"
    assert first.task.entity_ids == {"case C-1042": "C-1042"}
    assert first.events == ["task_change"]
    second = extract_facts_from(
        [
            HumanMessage("Case C-1042 is not urgent. Just summarize the evidence.", id="h1"),
            AIMessage("Summary: ...", id="a1"),
            HumanMessage(
                "Actually, new evidence makes it urgent. Escalate the risk analysis "
                "only, don't change the case status.",
                id="h2",
            ),
        ],
        facts=first.facts,
        task=first.task,
        watermark="h1",
        now=NOW,
    )
    assert second.task is not None and second.task.task_name == "Escalate the risk analysis only"
    assert second.task.entity_ids == {"case C-1042": "C-1042"}
    assert second.events == ["correction", "task_change"]
    urgency = [(f.subject, f.value, f.status) for f in second.facts if f.key == "urgency"]
    assert urgency == [("C-1042", "not urgent", "superseded"), ("C-1042", "urgent", "active")]
    assert second.references == []


# ----------------------------------------------------------------------- through the graph


def test_correction_through_the_graph(backend_url: str, stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, backend_url), thread(), who()
    say(graph, cfg, ana, "I live in Lisbon.")
    say(graph, cfg, ana, "Actually, I moved to Porto.")
    values = graph.get_state(cfg).values
    package = values["context_package"]
    assert fact_lines(package) == ["user lives_in: Porto"]
    assert [(f.value, f.status) for f in values["facts"]] == [
        ("Lisbon", "superseded"),
        ("Porto", "active"),
    ]
    # Durable memory followed the correction: a new thread sees Porto only.
    later = say(graph, thread(), ana, "Where do I live now?")
    assert fact_lines(later["context_package"]) == ["user lives_in: Porto"]
    stored = {f.value for f in load_facts(graph.store, ana.tenant_id, "ana")}  # type: ignore[arg-type]
    assert stored == {"Porto"}


def test_expired_facts_are_excluded_and_stale_ones_labelled(
    backend_url: str, stack: ExitStack
) -> None:
    config = MemoryConfig(stale_after={"likes": timedelta(days=180)})
    graph, cfg, ana = open_graph(stack, backend_url, config=config), thread(), who()
    old = datetime.now(UTC) - timedelta(days=400)
    said_long_ago = {"created_at": old.isoformat()}
    say(
        graph,
        cfg,
        ana,
        HumanMessage(
            "I like jazz. I have a dentist appointment on 2024-03-05.",
            additional_kwargs=said_long_ago,
        ),
    )
    package = say(graph, cfg, ana, "What music should I play?")["context_package"]
    assert fact_lines(package) == ["user likes: jazz"]
    text = rendered(package)
    assert f"(may be stale, observed {old.date().isoformat()})" in text
    expired = [e for e in package.excluded if e.reason == "stale"]
    assert len(expired) == 1 and "expired" in expired[0].detail


def test_sensitive_fact_is_not_durable_before_approval(backend_url: str, stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, backend_url), thread(), who()
    result = say(graph, cfg, ana, "I'm allergic to peanuts and I like jazz.")
    assert result["__interrupt__"]
    stored = {f.key for f in load_facts(graph.store, ana.tenant_id, "ana")}  # type: ignore[arg-type]
    assert stored == {"likes"}
    assert graph.get_state(cfg).next == ("approve",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expire_after": {"plan": timedelta(0)}}, "expire_after must be positive"),
        ({"durable_facts_limit": -1}, "durable_facts_limit must be >= 0"),
        ({"durable_scan_limit": 3}, "durable_scan_limit (3) must be at least"),
        ({"reference_window": 1}, "reference_window must be at least 2"),
        ({"fact_history_limit": -1}, "fact_history_limit must be >= 0"),
    ],
)
def test_the_facts_settings_are_validated(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MemoryConfig(**fields)  # type: ignore[arg-type]


def test_expire_after_sets_the_expiry_of_facts_without_a_date() -> None:
    config = MemoryConfig(expire_after={"likes": timedelta(days=30)})
    update = extract_facts_from([HumanMessage("I like jazz.", id="h1")], config=config, now=NOW)
    assert [f.expires_at for f in update.facts] == [NOW + timedelta(days=30)]


# ------------------------------------------------------------- retractions, other people


def of_key(facts: Sequence[Fact], key: str) -> list[Fact]:
    return [f for f in facts if f.key == key]


def lines_for(facts: Sequence[Fact], request: str = "go on") -> list[str]:
    package = build_package(
        {"messages": [HumanMessage(request, id="req")], "facts": facts},
        identity=WHO,
        config=MemoryConfig(),
        now=NOW,
    )
    return fact_lines(package)


def test_a_retraction_supersedes_what_it_names_and_says_so() -> None:
    first = HumanMessage("I live in Paris and I like jazz.", id="h1")
    facts = run(first)
    update = extract_facts_from(
        [first, HumanMessage("I no longer live in Paris.", id="h2")],
        facts=facts,
        watermark="h1",
        now=NOW,
    )
    facts = merge_facts(facts, update.facts)
    [paris] = of_key(facts, "lives_in")
    [marker] = of_key(facts, "no_longer:lives_in")
    assert paris.status == "superseded" and paris.superseded_by == marker.id
    assert (marker.value, marker.status, marker.scope) == ("Paris", "active", "thread")
    assert update.events == ["correction"] and update.candidates == []
    assert sorted(lines_for(facts)) == ["user likes: jazz", "user no_longer:lives_in: Paris"]


@pytest.mark.parametrize(
    ("said", "retracted", "kept", "marker"),
    [
        ("I'm a vegetarian.", "vegetarian", [], "user no_longer:diet: vegetarian"),
        ("I like meat and cheese.", "meat", ["user likes: cheese"], "user no_longer: eat meat"),
        ("I work at Acme.", "Acme", [], "user no_longer:works_at: Acme"),
    ],
)
def test_retractions_retire_the_matching_active_fact_only(
    said: str, retracted: str, kept: list[str], marker: str
) -> None:
    retraction = {
        "vegetarian": "I'm not vegetarian any more.",
        "meat": "I don't eat meat anymore.",
        "Acme": "I don't work at Acme anymore.",
    }[retracted]
    facts = run(HumanMessage(said, id="h1"), HumanMessage("I live in Lisbon.", id="h2"))
    facts = run(HumanMessage(retraction, id="h3"), facts=facts, watermark="h2")
    gone = [f for f in facts if f.value == retracted and not f.key.startswith("no_longer")]
    assert [f.status for f in gone] == ["superseded"]
    assert sorted(lines_for(facts)) == sorted([marker, "user lives_in: Lisbon", *kept])


def test_the_model_repeating_a_retracted_fact_is_not_evidence_but_the_user_is() -> None:
    facts = run(HumanMessage("I live in Paris.", id="h1"))
    facts = run(HumanMessage("I no longer live in Paris.", id="h2"), facts=facts, watermark="h1")
    inferred = Scripted(
        Claim(
            key="lives_in",
            value="Paris",
            source_turn_id="a3",
            trust_level=TrustLevel.MODEL_INFERRED,
            scope="user",
        )
    )
    facts = run(
        HumanMessage("I no longer live in Paris.", id="h2"),
        AIMessage("You live in Paris, so ...", id="a3"),
        facts=facts,
        watermark="h2",
        extractor=inferred,
    )
    assert [f.status for f in of_key(facts, "lives_in")] == ["rejected"]
    assert lines_for(facts) == ["user no_longer:lives_in: Paris"]
    facts = run(HumanMessage("Actually, I live in Paris.", id="h4"), facts=facts, watermark="a3")
    assert [f.status for f in of_key(facts, "lives_in")] == ["active"]
    assert [f.status for f in of_key(facts, "no_longer:lives_in")] == ["superseded"]
    assert lines_for(facts) == ["user lives_in: Paris"]


def test_the_model_cannot_retract_what_the_user_said() -> None:
    facts = run(HumanMessage("I live in Paris.", id="h1"))
    inferred = Scripted(
        Claim(
            action="retract",
            key="lives_in",
            value="Paris",
            source_turn_id="a2",
            trust_level=TrustLevel.MODEL_INFERRED,
        )
    )
    facts = run(
        HumanMessage("I live in Paris.", id="h1"),
        AIMessage("So you have left Paris.", id="a2"),
        facts=facts,
        watermark="h1",
        extractor=inferred,
    )
    assert lines_for(facts) == ["user lives_in: Paris"]


def test_a_fact_about_someone_else_has_them_as_subject_and_waits_for_approval() -> None:
    update = extract_facts_from(
        [HumanMessage("My wife Ana is allergic to nuts. I like jazz.", id="h1")], now=NOW
    )
    about = {(f.subject, f.key, f.value): f for f in update.facts}
    assert set(about) == {
        ("user", "family:wife", "Ana"),
        ("Ana", "allergy", "nuts"),
        ("user", "likes", "jazz"),
    }
    assert about[("Ana", "allergy", "nuts")].sensitivity == "sensitive"
    assert sorted(c.fact.key for c in update.pending) == ["allergy", "family:wife"]
    assert [f.key for f in update.write] == ["likes"]
    assert "Ana allergy: nuts" in lines_for(update.facts)


def test_a_retraction_reaches_durable_memory(backend_url: str, stack: ExitStack) -> None:
    graph, ana = open_graph(stack, backend_url), who()
    say(graph, thread(), ana, "I live in Paris and I like jazz.")
    package = say(graph, thread(), ana, "I no longer live in Paris.")["context_package"]
    assert "user no_longer:lives_in: Paris" in fact_lines(package)
    assert "user lives_in: Paris" not in fact_lines(package)
    stored = {(f.key, f.value) for f in load_facts(graph.store, ana.tenant_id, "ana")}  # type: ignore[arg-type]
    assert stored == {("likes", "jazz")}
    later = say(graph, thread(), ana, "Where do I live? What music do I like?")
    assert fact_lines(later["context_package"]) == ["user likes: jazz"]


# --------------------------------------------------------------- bounded fact history


def converse(texts: Sequence[str | BaseMessage], config: MemoryConfig) -> tuple[list[Fact], int]:
    """Run extraction turn by turn as the node does; return the facts and the overwrites."""
    messages: list[BaseMessage] = []
    state: dict[str, object] = {"messages": messages, "facts": []}
    overwrites = 0
    for index, said in enumerate(texts):
        turn = HumanMessage(said, id=f"t{index}") if isinstance(said, str) else said
        watermark = messages[-1].id if messages else None
        messages.append(turn)
        facts: list[Fact] = state["facts"]  # type: ignore[assignment]
        update = extract_facts_from(
            messages, facts=facts, watermark=watermark, config=config, now=NOW
        )
        written = update.state_update(state).get("facts")
        if isinstance(written, Overwrite):
            overwrites += 1
            state["facts"] = list(written.value)
        elif written is not None:
            state["facts"] = merge_facts(facts, written)
    return state["facts"], overwrites  # type: ignore[return-value]


def test_the_thread_keeps_only_the_newest_history() -> None:
    colours = ["teal", "red", "blue", "green", "pink", "grey", "gold"]
    texts = ["I live in Lisbon.", *(f"My favourite colour is {c}." for c in colours)]
    facts, overwrites = converse(texts, MemoryConfig(fact_history_limit=2))
    assert [(f.value, f.status) for f in facts] == [
        ("Lisbon", "active"),
        ("pink", "superseded"),
        ("grey", "superseded"),
        ("gold", "active"),
    ]
    assert overwrites == len(colours) - 3
    assert lines_for(facts) == ["user favourite_colour: gold", "user lives_in: Lisbon"]
    unbounded, none = converse(texts, MemoryConfig(fact_history_limit=50))
    assert len(unbounded) == len(colours) + 1 and none == 0


def test_rejected_assumptions_stay_refused_after_trimming() -> None:
    assumed = AIMessage(
        "I'll assume the violation was intentional. I'll assume the licensee is ACME-77.",
        id="a1",
    )
    again = AIMessage(
        "I assume the violation was intentional. I assume the licensee is ACME-77.", id="a2"
    )
    texts: list[str | BaseMessage] = [
        "Review case C-7.",
        assumed,
        "That's wrong.",
        *(f"My favourite colour is {c}." for c in ("teal", "red", "blue")),
        again,
        "ok",
    ]
    facts, overwrites = converse(texts, MemoryConfig(fact_history_limit=0))
    assert overwrites == 4
    assert not [f for f in facts if f.key == "favourite_colour" and f.status != "active"]
    # Both assumptions were rejected by one "that's wrong"; the do_not_assume fact
    # names the last one, so the first is kept as the only thing that refuses it.
    assert lines_for(facts) == [
        "user do_not_assume: the licensee is ACME-77",
        "user favourite_colour: blue",
    ]
    # The other one is refused by the do_not_assume fact, so its record could go.
    assert [(f.value, f.status) for f in of_key(facts, "assumption")] == [
        ("the violation was intentional", "rejected")
    ]


def test_fact_history_is_bounded_through_the_graph(backend_url: str, stack: ExitStack) -> None:
    config = MemoryConfig(fact_history_limit=2)
    graph, cfg, ana = open_graph(stack, backend_url, config=config), thread(), who()
    for colour in ("teal", "red", "blue", "green", "pink"):
        say(graph, cfg, ana, f"My favourite colour is {colour}.")
    values = graph.get_state(cfg).values
    assert [(f.value, f.status) for f in values["facts"]] == [
        ("blue", "superseded"),
        ("green", "superseded"),
        ("pink", "active"),
    ]
    assert fact_lines(values["context_package"]) == ["user favourite_colour: pink"]


# --- what the mutation pass of issue 21 found unguarded -----------------------------


def test_liking_one_thing_and_disliking_another_keeps_both() -> None:
    likes = Claim(key="likes", value="cats", source_turn_id="h1")
    dislikes_dogs = Claim(key="dislikes", value="dogs", source_turn_id="h2")
    dislikes_cats = Claim(key="dislikes", value="cats", source_turn_id="h3")
    first = run(
        HumanMessage("I like cats.", id="h1"),
        HumanMessage("I don't like dogs.", id="h2"),
        extractor=Scripted(likes, dislikes_dogs),
    )
    assert sorted((f.key, f.value, f.status) for f in first) == [
        ("dislikes", "dogs", "active"),
        ("likes", "cats", "active"),
    ]
    # Disliking the same thing is the opposite, and supersedes it.
    second = run(
        HumanMessage("I don't like cats.", id="h3"),
        facts=first,
        watermark="h2",
        extractor=Scripted(dislikes_cats),
    )
    assert sorted((f.key, f.value, f.status) for f in second) == [
        ("dislikes", "cats", "active"),
        ("dislikes", "dogs", "active"),
        ("likes", "cats", "superseded"),
    ]


def test_restating_a_fact_never_lowers_its_trust() -> None:
    seen = Claim(key="order", value="shipped", source_turn_id="t1")
    said = Claim(key="order", value="shipped", source_turn_id="h2")
    facts = run(
        ToolMessage("order: shipped", tool_call_id="c1", id="t1"),
        extractor=Scripted(seen),
    )
    assert [(f.key, f.trust_level) for f in facts] == [("order", TrustLevel.TOOL_OBSERVED)]
    facts = run(
        HumanMessage("My order shipped.", id="h2"),
        facts=facts,
        watermark="t1",
        extractor=Scripted(said),
    )
    (fact,) = facts
    assert (fact.trust_level, fact.source_turn_id) == (TrustLevel.TOOL_OBSERVED, "h2")


def test_only_user_and_tenant_facts_are_proposed_for_durable_memory() -> None:
    claims = [
        Claim(key=f"note_{scope}", value="x", source_turn_id="h1", scope=scope)
        for scope in ("thread", "user", "tenant")
    ]
    update = extract_facts_from(
        [HumanMessage("Remember these.", id="h1")], extractor=Scripted(*claims), now=NOW
    )
    assert sorted(f.key for f in update.facts) == ["note_tenant", "note_thread", "note_user"]
    assert sorted(c.fact.key for c in update.candidates) == ["note_tenant", "note_user"]
