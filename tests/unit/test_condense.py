"""Standalone questions from a conversation: the rewrite rules, and a chat model's rewrite with its
fallback to the rules."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from citegraph.agents.condense import is_follow_up, main_entity, rule_standalone, standalone_question
from citegraph.state import Turn

LIGHTHOUSE = Turn(
    question="Who kept the Hollowell lighthouse?",
    answer="Marta Vance kept the Hollowell lighthouse for thirty-one years [1].",
)


def ask(question: str, answer: str = "") -> Turn:
    return Turn(question=question, answer=answer)


@pytest.mark.parametrize(
    ("history", "question", "standalone"),
    [
        # pronoun subject -> the previous question's entity
        (
            [ask("What is Raft?")],
            "How does it handle leader failure?",
            "How does Raft handle leader failure?",
        ),
        ([ask("What is Raft?")], "How does it compare to Paxos?", "How does Raft compare to Paxos?"),
        # possessive
        (
            [ask("What is the Tessel File System?")],
            "How big are its chunks?",
            "How big are Tessel File System's chunks?",
        ),
        # "she" after a "Who" question is the person the answer names
        ([LIGHTHOUSE], "Where was she born?", "Where was Marta Vance born?"),
        ([LIGHTHOUSE], "When did her father die?", "When did Marta Vance's father die?"),
        # ... but after "Who is <name>?" the person is the one the question names, title and all
        (
            [ask("Who is Jefferson Hope?", "Wherever adventures were to be had, Hope had been there [1].")],
            "What was his job in London?",
            "What was Jefferson Hope's job in London?",
        ),
        (
            [ask("Who is Dr. Watson?", "Clearly an army doctor [1].")],
            "What wounded him?",
            "What wounded Dr. Watson?",
        ),
        # "they" is the plural thing the conversation's opening question asked about
        ([ask("What is a term in Raft?")], "How are they numbered?", "How are terms in Raft numbered?"),
        (
            [
                ask("What are backup tasks in MapReduce?"),
                ask("How much longer does the sort take without them?"),
            ],
            "Why are they needed?",
            "Why are backup tasks in MapReduce needed?",
        ),
        # demonstratives and "there"
        (
            [ask("When did the Kestrel bridge open?")],
            "Who designed that bridge?",
            "Who designed Kestrel bridge?",
        ),
        (
            [ask("What is the election timeout?")],
            "What does this mean?",
            "What does the election timeout mean?",
        ),
        (
            [ask("Where does the Pellam observatory stand?")],
            "Who discovered a comet there?",
            "Who discovered a comet at Pellam?",
        ),
        # elliptical: a new name replaces the previous entity, an aspect is asked about it
        (
            [ask("How does Raft handle leader failure?")],
            "How about Paxos?",
            "How does Paxos handle leader failure?",
        ),
        (
            [ask("How does Raft handle leader failure?")],
            "And the GFS one?",
            "How does GFS handle leader failure?",
        ),
        ([ask("How does GFS handle writes?")], "What about reads?", "What about reads in GFS?"),
        ([ask("Does Raft use randomized timeouts?")], "Why?", "Why does Raft use randomized timeouts?"),
        # a chain: the previous follow-up is resolved first
        ([ask("What is Raft?"), ask("How does it elect a leader?")], "Why?", "Why does Raft elect a leader?"),
        (
            [ask("What is the Tessel File System?"), ask("How big are its chunks?")],
            "What happens when its coordinator fails?",
            "What happens when Tessel File System's coordinator fails?",
        ),
        # no-ops: standalone questions, existential "there", a pronoun after the question's own name
        ([ask("What is Raft?")], "What is Paxos?", "What is Paxos?"),
        ([ask("What is GFS?")], "Is there a limit on chunk size?", "Is there a limit on chunk size?"),
        (
            [ask("What is Paxos?")],
            "When did Raft appear and who made it?",
            "When did Raft appear and who made it?",
        ),
        # no history: nothing to resolve against
        ([], "How does it handle leader failure?", "How does it handle leader failure?"),
        ([], "Why?", "Why?"),
        # nothing to put in for "it": both questions are searched together, as before
        (
            [ask("Who saved nine sailors?")],
            "Why did they do it?",
            "Who saved nine sailors? Why did they do it?",
        ),
    ],
)
def test_rule_standalone(history: list[Turn], question: str, standalone: str) -> None:
    assert rule_standalone(question, history) == standalone
    assert standalone_question(question, history) == standalone  # no model: the rules


@pytest.mark.parametrize(
    ("question", "entity"),
    [
        ("What is Raft?", "Raft"),
        ("How does the Google File System store chunks?", "Google File System"),
        ("Who kept the Hollowell lighthouse?", "the Hollowell lighthouse"),
        ("What is the role of the leader?", "the leader"),
        ("How does the leader handle failures?", "the leader"),
        ("What is consensus?", "consensus"),
        ("Why?", ""),
    ],
)
def test_main_entity(question: str, entity: str) -> None:
    assert main_entity(question) == entity


def test_follow_up_detection() -> None:
    assert is_follow_up("How does it work?") and is_follow_up("What about reads?") and is_follow_up("Why?")
    assert is_follow_up("And the GFS one?")
    assert not is_follow_up("How does Raft elect a leader?")
    assert not is_follow_up("And how does Raft elect a leader when the network is partitioned?")


def fake(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))


def test_a_chat_model_rewrites_and_falls_back_to_the_rules() -> None:
    history = [ask("What is Raft?", "Raft is a consensus algorithm [1].")]
    question = "How does it handle leader failure?"
    model = fake("Standalone question: How does the Raft algorithm handle a failed leader?")
    assert (
        standalone_question(question, history, model) == "How does the Raft algorithm handle a failed leader?"
    )
    # An empty or abstaining reply is unusable: the rules answer.
    for reply in ("", "The documents do not say."):
        assert standalone_question(question, history, fake(reply)) == "How does Raft handle leader failure?"
    # A standalone question and a first question never reach the model (its reply list is empty).
    assert standalone_question("What is Paxos?", history, fake()) == "What is Paxos?"
    assert standalone_question(question, [], fake()) == question


def test_a_failing_chat_model_falls_back_to_the_rules() -> None:
    class Broken(GenericFakeChatModel):
        def _generate(self, *args, **kwargs):
            raise ConnectionError("model server down")

    history = [ask("What is Raft?")]
    broken = Broken(messages=iter([]))
    assert standalone_question("Why is it safe?", history, broken) == "Why is Raft safe?"
