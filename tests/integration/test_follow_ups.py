"""Follow-up questions of a conversation on a real store: "How does it handle leader failure?" after
"What is Quorra?" is searched as "How does Quorra handle leader failure?" and gets the same cited answer
as that explicit question."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from citegraph import threads
from citegraph.context import RagContext
from citegraph.ingest.pipeline import ingest_paths
from citegraph.models.registry import register_chat_model

pytestmark = pytest.mark.integration

# Invented systems, so no model can know the answers (a backslash joins a paragraph's lines).
QUORRA = """# The Quorra Consensus Protocol

Quorra is a consensus protocol for replicated logs, designed by Lena Marsh at Ostberg University in 2011.

Quorra handles leader failure with a new election. \
When the leader fails, the followers stop receiving heartbeats. \
After a randomized election timeout of 150 to 300 milliseconds a follower becomes a candidate \
and asks the other servers for votes. \
A candidate that wins the votes of a majority of the cluster becomes the new leader.

Quorra commits a log entry once a majority of the servers have stored it.

Quorra serves reads from the leader, which first confirms its leadership with one round of heartbeats.
"""

TESSEL = """# The Tessel File System

The Tessel File System stores files as chunks of 32 megabytes, each replicated on three chunk servers.

A single coordinator keeps the namespace and the chunk locations in memory. \
When the coordinator fails, a shadow coordinator takes over from the operation log \
that is kept on two other machines.

Clients read data directly from the chunk servers, choosing the closest replica. \
Tessel orders writes with a primary replica that holds a lease of sixty seconds.
"""


def write_systems(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quorra.md").write_text(QUORRA, encoding="utf-8")
    (folder / "tessel.md").write_text(TESSEL, encoding="utf-8")


@pytest.fixture
def systems_store(tmp_path: Path, settings, make_store):
    write_systems(tmp_path / "docs")
    ingest_paths(make_store(), [tmp_path / "docs"], settings)
    return settings


def test_a_follow_up_with_it_gets_the_answer_of_the_explicit_question(systems_store) -> None:
    ctx = RagContext(store_dir=str(systems_store.store_dir))
    with threads.rag_graph(systems_store) as g:
        threads.ask(g, "What is Quorra?", ctx, thread_id="chat")
        follow = threads.ask(g, "How does it handle leader failure?", ctx, thread_id="chat").answer
        explicit = threads.ask(g, "How does Quorra handle leader failure?", ctx, thread_id="fresh").answer
    assert follow["standalone_question"] == "How does Quorra handle leader failure?"
    assert "standalone_question" not in explicit  # a standalone question is searched as asked
    assert follow["question"] == "How does it handle leader failure?"
    assert not follow["abstained"] and follow["verified"] and "new election" in follow["answer"]
    assert follow["answer"] == explicit["answer"]
    assert follow["citations"] == explicit["citations"]


def test_possessive_and_elliptical_follow_ups(systems_store) -> None:
    ctx = RagContext(store_dir=str(systems_store.store_dir))
    with threads.rag_graph(systems_store) as g:
        threads.ask(g, "What is the Tessel File System?", ctx, thread_id="t")
        size = threads.ask(g, "How big are its chunks?", ctx, thread_id="t").answer
        threads.ask(g, "When does Quorra commit a log entry?", ctx, thread_id="q")
        reads = threads.ask(g, "What about reads?", ctx, thread_id="q").answer
    assert size["standalone_question"] == "How big are Tessel File System's chunks?"
    assert "32 megabytes" in size["answer"] and size["verified"]
    assert reads["standalone_question"] == "What about reads in Quorra?"
    assert "confirms its leadership" in reads["answer"] and reads["verified"]


def test_the_generate_strategy_s_chat_model_makes_the_follow_up_standalone(systems_store) -> None:
    prompts: list = []

    class Recording(GenericFakeChatModel):
        def _generate(self, messages, *args, **kwargs):
            prompts.append(messages)
            return super()._generate(messages, *args, **kwargs)

    replies = [
        "Quorra is a consensus protocol for replicated logs [1].",
        "Standalone question: How does the Quorra protocol handle the failure of its leader?",
        "Quorra handles leader failure with a new election [1].",
    ]
    register_chat_model("fake:condense", Recording(messages=iter([AIMessage(r) for r in replies])))
    ctx = RagContext(
        store_dir=str(systems_store.store_dir), strategy="generate", model="fake:condense", max_retries=0
    )
    with threads.rag_graph(systems_store) as g:
        threads.ask(g, "What is Quorra?", ctx, thread_id="gen")
        follow = threads.ask(g, "How does it handle leader failure?", ctx, thread_id="gen").answer
    assert len(prompts) == 3  # answer, then the rewrite of the follow-up, then its answer
    assert "Last question: How does it handle leader failure?" in prompts[1][-1].content
    assert "User: What is Quorra?" in prompts[1][-1].content
    assert follow["standalone_question"] == "How does the Quorra protocol handle the failure of its leader?"
