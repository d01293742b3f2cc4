"""The offline model answers from the line of its context that best matches the request."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from memorygraph.offline import OfflineChatModel
from memorygraph.rendering.messages import CONTEXT_HEADER


def test_answers_the_question_from_the_best_matching_item_not_the_last_shared_word() -> None:
    context = "\n".join(
        [
            CONTEXT_HEADER,
            "",
            "[fact | fact-1 | user_claimed]",
            "> user decision: start in Osaka, then Kyoto, then Tokyo",
            "",
            "[summary | summary-v2]",
            "> User goal: I'm planning a trip to Japan in April. [turn 9fd0]",
            "> Covers turns up to d82e.",
            "",
            "[recalled | Sun 6 Dec 2026, 04:59 UTC]",
            "> user: I'm planning a trip to Japan in April. Let's go with Kyoto first.",
            "> user: Hi! My name is Ana, I live in Lisbon, and I'm allergic to peanuts.",
        ]
    )
    messages = [
        SystemMessage("[policy]\nYou are a helpful assistant."),
        HumanMessage(context, name="context"),
        HumanMessage("Which city do we start in?"),
        AIMessage("(offline model) From what I was given: user: Hi! My name is Ana"),
        HumanMessage("Hello again, it's Ana. Where did we say the trip starts?"),
    ]
    reply = OfflineChatModel().invoke(messages).text
    assert reply == (
        "(offline model) From what I was given: user decision: start in Osaka, then Kyoto, "
        "then Tokyo"
    )
    # A request that shares no word with the context gets no made-up answer.
    messages[-1] = HumanMessage("Good morning!")
    assert "Noted" in OfflineChatModel().invoke(messages).text


def test_a_facts_key_matches_the_words_it_is_made_of() -> None:
    context = "\n".join(
        [CONTEXT_HEADER, "", "[fact | fact-2 | user_claimed]", "> user lives_in: Lisbon"]
    )
    messages = [HumanMessage(context, name="context"), HumanMessage("Where do I live?")]
    reply = OfflineChatModel().invoke(messages).text
    assert reply == "(offline model) From what I was given: user lives_in: Lisbon"
