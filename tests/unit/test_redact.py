"""Redaction matches what people and tools really write, and the audit trace shows it.

Every form the outside probe found unredacted (cards with no-break spaces,
dots, slashes, underscores, U+2011 or spaced dashes; an IBAN with dashes;
phones with an extension, en-dashes or slashes; emails with a zero-width
character or a fullwidth at sign; API keys and passwords) is redacted by
`redact`, and is absent from the general audit trace of a real turn on every
backend. Ordinary text (dates, times, versions, ids, "token" and "pin" as
words) is left alone.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import ExitStack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.redact import has_personal_data, redact
from memorygraph.store.audit import read_audit
from memorygraph.store.namespaces import audit_namespace
from tests.fakes import RecordingChatModel

# (text, what must not survive, the label it becomes)
FORMS = [
    ("4111\u00a01111\u00a01111\u00a01111", "1111", "[card]"),
    ("4111.1111.1111.1111", "1111", "[card]"),
    ("4111/1111/1111/1111", "1111", "[card]"),
    ("4111_1111_1111_1111", "1111", "[card]"),
    ("4111\u20111111\u20111111\u20111111", "1111", "[card]"),
    ("4111 - 1111 - 1111 - 1111", "1111", "[card]"),
    ("4111\u20131111\u20131111\u20131111", "1111", "[card]"),
    ("\uff14\uff11\uff11\uff11 1111 1111 1111", "1111", "[card]"),
    ("GB82-WEST-1234-5698-7654-32", "5698", "[iban]"),
    ("+44 20 7946 0958 ext. 123", "7946", "[phone]"),
    ("212\u2013555\u20130199 x42", "0199", "[phone]"),
    ("212/555/0199", "0199", "[phone]"),
    ("ana.lima\u200b@example.org", "lima", "[email]"),
    ("ana.lima\uff20example.org", "lima", "[email]"),
    ("ana.lima@\u200bexample.org", "lima", "[email]"),
    ("sk-proj-Xq7vB2nL9sKd4Rt6Yw1ZpA3m", "Xq7vB2", "[secret]"),
    ("sk-ant-api03-Xq7vB2nL9sKd4Rt6Yw1Z", "Xq7vB2", "[secret]"),
    ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN", "[secret]"),
    ("ghp_Xq7vB2nL9sKd4Rt6Yw1ZpA3mQ8cE5fH0jU2i", "Xq7vB2", "[secret]"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijKLMN", "11ABCDEFG", "[secret]"),
    ("Authorization: Bearer Xq7vB2nL9sKd4Rt6Yw1ZpA3m", "Xq7vB2", "[secret]"),
    ("my password is Tr0ub4dor&3", "Tr0ub4dor", "[secret]"),
    ("password: correct-horse-battery", "horse", "[secret]"),
    ("PIN = 4321", "4321", "[secret]"),
    ("api_key=Xq7vB2nL9sKd", "Xq7vB2", "[secret]"),
]
LEFT_ALONE = [
    "Meet on 2026-06-28 at 10:30 in room 12.",
    "turn f84994ae-1234-4e05-8a11-af360c07",
    "version 1.2.3 released on 3/4/2025",
    "the token limit is 4000 tokens",
    "pin the tab and pass the salt",
    "Order 42 ships in 3 days.",
]


@pytest.mark.parametrize(("text", "secret", "label"), FORMS, ids=[f[0][:24] for f in FORMS])
def test_every_probe_form_is_redacted(text: str, secret: str, label: str) -> None:
    redacted = redact(f"Note: {text}. Thanks!")
    assert secret not in redacted and label in redacted, redacted
    assert has_personal_data(text)


# A phone number has 7 to 15 digits: each bound, on both sides.
PHONE_BOUNDS = [
    ("call 123 456 now", "call 123 456 now"),  # 6 digits: kept
    ("call 123-4567 now", "call [phone] now"),  # 7 digits
    ("tel 12 345 6 now", "tel 12 345 6 now"),  # 6
    ("tel 12 345 67 now", "tel [phone] now"),  # 7
    ("call 123-456 x7 now", "call 123-456 x7 now"),  # 6, and an extension that does not count
    ("tel (123) (456) (789) (012) (345) now", "tel [phone]) now"),  # 15
    ("tel (123) (456) (789) (012) (3456) now", "tel (123) (456) (789) (012) (3456) now"),  # 16
]


@pytest.mark.parametrize(("text", "expected"), PHONE_BOUNDS)
def test_a_phone_number_has_seven_to_fifteen_digits(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert has_personal_data(text) is (expected != text)


# A card number has 13 to 19 digits: each bound, on both sides (12 digits are a phone's).
CARD_BOUNDS = [
    ("card 422222222222 ok", "card [phone] ok"),  # 12 digits
    ("card 4222222222222 ok", "card [card] ok"),  # 13
    ("card 4111-1111-1111-1111-111 ok", "card [card] ok"),  # 19
    ("card 4111-1111-1111-1111-1111 ok", "card 4111-1111-1111-1111-1111 ok"),  # 20
]


@pytest.mark.parametrize(("text", "expected"), CARD_BOUNDS)
def test_a_card_number_has_thirteen_to_nineteen_digits(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert not has_personal_data(text)


separators = st.sampled_from([" ", "\u00a0", "-", "\u2011", "\u2013", ".", "/", "_", " - "])
invisible = st.sampled_from(["", "\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"])


@settings(max_examples=200, deadline=None)
@given(
    digits=st.lists(st.integers(0, 9), min_size=16, max_size=16),
    sep=separators,
    hidden=invisible,
)
def test_cards_are_redacted_whatever_separates_their_groups(
    digits: list[int], sep: str, hidden: str
) -> None:
    groups = ["".join(map(str, digits[i : i + 4])) for i in range(0, 16, 4)]
    card = (hidden + sep).join(groups)
    redacted = redact(f"card {card} thanks")
    assert "".join(map(str, digits)) not in "".join(c for c in redacted if c.isdigit())


_IDS = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{16,}")


def test_the_audit_trace_holds_none_of_them(backend_url: str) -> None:
    with ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer(backend_url))
        store = stack.enter_context(open_store(backend_url))
        graph = create_memory_graph(
            RecordingChatModel(),
            checkpointer=checkpointer,
            store=store,
            config=MemoryConfig(approve_personal=False, token_budget=8000),
        )
        context = MemoryContext(tenant_id=f"acme{uuid.uuid4().hex[:8]}", user_id="ana")
        cfg = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
        text = "Please keep these: " + "; ".join(form for form, _, _ in FORMS)
        graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
        (record,) = read_audit(store, context.tenant_id, "ana")
        general = repr(record) + repr(
            [i.value for i in store.search(audit_namespace(context.tenant_id, "ana"), limit=100)]
        )
        # Ids (uuids, sha256 hex) may hold "1111" by chance: only the text counts.
        general = _IDS.sub("<id>", general)
        for _, secret, _ in FORMS:
            assert secret not in general


@pytest.mark.parametrize(
    "text",
    ["x" * 200_000, "x" * 200_000 + "@", "1 " * 100_000, "ab." * 60_000 + "@x.org"],
    ids=["letters", "letters-at", "digits", "dotted"],
)
def test_redaction_takes_linear_time(text: str) -> None:
    """An unbounded repeat made a 200,000-letter message cost minutes in every audit."""
    started = time.monotonic()
    redact(text)
    assert time.monotonic() - started < 5  # about 0.2 s; minutes when quadratic
