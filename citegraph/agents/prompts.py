"""Prompts of the LLM-backed agents. The answer prompt is also the SFT format of the LoRA ``answer`` adapter,
so a change here is a change of training data: keep ``answer_messages`` the one place that renders it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from citegraph.answers import ABSTAIN_TEXT

ANSWER_SYSTEM = (
    "You answer questions using only the numbered sources. Write one to three short sentences. "
    "End every sentence with the number of the source that says it, like [1]. "
    f"If the sources do not answer the question, reply exactly: {ABSTAIN_TEXT}"
)


class Source(TypedDict):
    """One numbered source shown to the answerer: ``text`` is what its [n] marker may cite."""

    n: int
    source: str
    location: str
    text: str


def format_sources(sources: Sequence[Source]) -> str:
    """``[n] name (location)`` then the text, one block per source."""
    blocks = [f"[{s['n']}] {s['source']} ({s['location']})\n{' '.join(s['text'].split())}" for s in sources]
    return "\n\n".join(blocks)


def answer_messages(
    question: str,
    sources: Sequence[Source],
    feedback: str = "",
    history: Sequence[tuple[str, str]] = (),
) -> list[BaseMessage]:
    """The chat messages that ask a model for a cited answer.

    ``history`` holds earlier (question, answer) turns of the conversation, so a follow-up can refer to
    them; ``feedback`` is the verifier's list of rejected sentences when the answer is being rewritten.
    """
    messages: list[BaseMessage] = [SystemMessage(ANSWER_SYSTEM)]
    for asked, answered in history:
        messages += [HumanMessage(f"Question: {asked}"), AIMessage(answered)]
    prompt = f"Sources:\n{format_sources(sources)}\n\nQuestion: {question}"
    if feedback:
        prompt += (
            "\n\nYour previous answer had sentences the sources do not support:\n"
            f"{feedback}\nWrite the answer again, saying only what the sources say."
        )
    return [*messages, HumanMessage(prompt)]
