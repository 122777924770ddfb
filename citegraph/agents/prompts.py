"""Prompts of the LLM-backed agents. The answer prompt is also the SFT format of the LoRA ``answer`` adapter,
so a change here is a change of training data: keep ``answer_messages`` the one place that renders it."""

from __future__ import annotations

import json
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


# The planner's prompt when decoding is constrained to a plan schema (``plan_schema`` in the planner): the
# grammar fixes the shape, so the prompt spends its tokens on which tool fits which request. The examples
# are chat turns, not prose: SmolLM2-135M copies earlier turns far better than it follows instructions
# (on the routing set, examples inside the system prompt were copied verbatim, tool and arguments).
PLAN_STRUCTURED_SYSTEM = (
    "You plan tool calls for a document assistant. Tools:\n{tools}\n"
    "Reply with the JSON plan. Small talk gets no steps."
)
PLAN_EXAMPLES: tuple[tuple[str, tuple[tuple[str, dict[str, str]], ...]], ...] = (
    ("Who is Irene Adler?", (("cited_answer", {"question": "Who is Irene Adler?"}),)),
    ("What is 12 * 7?", (("calculator", {"expression": "12 * 7"}),)),
    ("Find passages about the fog.", (("search_documents", {"query": "the fog"}),)),
    ("What is the date today?", (("current_date", {}),)),
    ("Which documents do you hold?", (("list_sources", {}),)),
    ("Summarize notes.txt.", (("summarize_source", {"source": "notes.txt"}),)),
    ("Hello!", ()),
    (
        "What is 3 + 4, and who is Watson?",
        (("calculator", {"expression": "3 + 4"}), ("cited_answer", {"question": "who is Watson?"})),
    ),
)


def plan_messages(tools: str, request: str, names: Sequence[str] = ()) -> list[BaseMessage]:
    """The chat messages that ask for a plan of ``request``: the tool list, then the examples as earlier
    turns (only those whose tools are all in ``names``, when given, so no example shows a missing tool)."""
    messages: list[BaseMessage] = [SystemMessage(PLAN_STRUCTURED_SYSTEM.format(tools=tools))]
    for asked, steps in PLAN_EXAMPLES:
        if names and any(tool not in names for tool, _ in steps):
            continue
        plan = {"steps": [{"tool": tool, "args": args} for tool, args in steps]}
        messages += [HumanMessage(asked), AIMessage(json.dumps(plan))]
    return [*messages, HumanMessage(request)]


# The prompt of a planner LoRA adapter (``citegraph train lora-planner``), which is also its SFT format:
# a change here is a change of training data. It is short on purpose: the adapter learned the plan format
# and the routing conventions, so the prompt only names the tools it may call (with their required
# arguments) and every token saved is saved in each training step and each plan on two CPU cores.
TUNED_PLAN_SYSTEM = "Plan tool calls as JSON. Tools: {tools}."


def tuned_plan_messages(tools: str, request: str, history: Sequence[str] = ()) -> list[BaseMessage]:
    """The chat messages that ask a planner adapter for the plan of ``request``: ``tools`` is the brief
    tool list (``name(arg, ...)``, comma-separated), ``history`` the user's earlier requests (the last
    three are shown, so a follow-up's pronoun can be resolved)."""
    earlier = "".join(f"Earlier request: {h}\n" for h in list(history)[-3:])
    return [SystemMessage(TUNED_PLAN_SYSTEM.format(tools=tools)), HumanMessage(earlier + request)]


CONDENSE_SYSTEM = (
    "You rewrite the user's last question of a conversation into one standalone question that can be "
    "understood without the conversation: replace pronouns such as it, they, she or this by what they "
    "refer to, and complete short follow-ups such as 'What about reads?' from the earlier questions. "
    "Keep every name, number and technical term; do not answer the question. "
    "Reply with the standalone question only, on one line."
)


def condense_messages(question: str, history: Sequence[tuple[str, str]]) -> list[BaseMessage]:
    """The chat messages that ask a model to make ``question`` standalone with the earlier (question,
    answer) turns of ``history``."""
    turns = "\n".join(f"User: {asked}\nAssistant: {answered}" for asked, answered in history)
    return [
        SystemMessage(CONDENSE_SYSTEM),
        HumanMessage(f"Conversation:\n{turns}\n\nLast question: {question}\n\nStandalone question:"),
    ]
