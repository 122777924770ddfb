"""The `rag` graph for real: retrieval on a real store, the verifier, the review interrupt on a SQLite
checkpointer, conversation memory, streaming, and resume after a killed process."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from citegraph import threads
from citegraph.agents.reviewer import ReviewError
from citegraph.answers import UNVERIFIED_TEXT
from citegraph.context import RagContext
from citegraph.graphs.rag import graph
from citegraph.ingest.pipeline import ingest_paths
from citegraph.models.registry import register_chat_model
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration


@pytest.fixture
def corpus_store(tmp_path: Path, settings, make_store):
    write_corpus(tmp_path / "docs")
    store = make_store()
    ingest_paths(store, [tmp_path / "docs"], settings)
    return settings


def context(settings, **fields) -> RagContext:
    return RagContext(store_dir=str(settings.store_dir), **fields)


class RecordingModel(GenericFakeChatModel):
    """A fake chat model that replies from a list and records the prompts it was given."""

    prompts: list = []  # noqa: RUF012 (pydantic field; each test makes its own instance)


def fake_model(name: str, *replies: str) -> RecordingModel:
    model = RecordingModel(messages=iter([AIMessage(r) for r in replies]), prompts=[])
    original = model._generate

    def recording(messages, *args, **kwargs):
        model.prompts.append(messages)
        return original(messages, *args, **kwargs)

    object.__setattr__(model, "_generate", recording)
    register_chat_model(name, model)
    return model


def test_extract_answer_is_verified_and_streamed(corpus_store) -> None:
    tokens: list[str] = []
    final = None
    for mode, event in graph.stream(
        {"question": "Who saved nine sailors?"},
        context=context(corpus_store),
        stream_mode=["custom", "values"],
    ):
        if mode == "custom":
            tokens.append(event["text"])
        else:
            final = event
    answer = final["answer"]
    assert answer["verified"] and not answer["abstained"]
    assert "Marta" in answer["answer"] or "nine sailors" in answer["answer"]
    assert "".join(tokens) == answer["answer"]  # the stream is exactly the published answer
    assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    # Fan-out: every variant was searched, and the rankings are this question's only.
    assert len(final["variants"]) >= 2 and len({r.name for r in final["rankings"]}) >= len(final["variants"])


def test_generate_rewrites_with_feedback_then_drops_what_stays_unsupported(corpus_store) -> None:
    model = fake_model(
        "fake:rewrite",
        "Marta Vance is an American opera singer [1]. She saved nine sailors [2].",
        "In 1923 she saved nine sailors from the schooner Pelican [1]. She was born in Paris [1].",
    )
    state = graph.invoke(
        {"question": "Who saved nine sailors?"},
        context=context(corpus_store, strategy="generate", model="fake:rewrite", top_k=3, max_retries=1),
    )
    answer = state["answer"]
    assert len(model.prompts) == 2  # one rewrite, then the retry budget was spent
    assert "previous answer had sentences the sources do not support" in model.prompts[1][-1].content
    assert "opera singer" in model.prompts[1][-1].content
    # The unsupported sentence (Paris is in no source) is removed; the supported one stays, cited.
    assert answer["verified"] and "Paris" not in answer["answer"] and "Pelican" in answer["answer"]
    assert answer["answer"].endswith("[1].") and len(answer["citations"]) == 1
    assert "Pelican" in answer["citations"][0]["quote"]


def test_a_generated_answer_with_nothing_supported_says_it_could_not_be_verified(corpus_store) -> None:
    fake_model("fake:wrong", "Watson is an American opera singer [1].", "Watson sang in Vienna [2].")
    state = graph.invoke(
        {"question": "Who saved nine sailors?"},
        context=context(corpus_store, strategy="generate", model="fake:wrong", top_k=3),
    )
    # Not "The documents do not say.": they may well say something; this draft just is not theirs.
    assert state["answer"]["abstained"] and state["answer"]["answer"] == UNVERIFIED_TEXT
    assert not state["answer"]["verified"] and state["answer"]["citations"] == []


def test_review_approve_edit_and_reject(corpus_store) -> None:
    ctx = context(corpus_store, review=True)
    with threads.rag_graph(corpus_store) as g:
        first = threads.ask(g, "Who saved nine sailors?", ctx, thread_id="review-1")
        assert first.interrupt is not None and first.answer is None
        draft = first.interrupt["answer"]
        assert first.interrupt["type"] == "review" and draft["citations"]

        with pytest.raises(ReviewError):  # a malformed decision changes nothing
            threads.resume(g, "review-1", {"action": "maybe"})
        assert threads.pending_interrupt(g, "review-1")["answer"] == draft

        # An edit is verified again: the unsupported sentence is removed and shown to the reviewer again.
        kept = draft["answer"].split(" [1]")[0]  # the draft's first claim
        edit = {"action": "edit", "text": f"{kept} [1]. She was a pirate [1]."}
        edited = threads.resume(g, "review-1", edit)
        assert edited.interrupt is not None
        assert edited.interrupt["answer"]["answer"] == f"{kept} [1]."
        assert "pirate" in edited.interrupt["verifier_notes"]

        # Reject with feedback: answered again, without the rejected sentences, towards the feedback.
        rejected = threads.resume(g, "review-1", {"action": "reject", "feedback": "Where was she born?"})
        assert rejected.interrupt is not None
        again = rejected.interrupt["answer"]
        shown = edited.interrupt["answer"]["citations"]  # what the reviewer rejected
        assert not {c["quote"] for c in again["citations"]} & {c["quote"] for c in shown}
        assert "Tarrow" in again["answer"]  # the feedback steered the new answer

        done = threads.resume(g, "review-1", {"action": "approve"})
        assert done.answer == {
            **again,
            "answer": done.answer["answer"],
            "citations": done.answer["citations"],
        }
        assert done.answer["answer"] == again["answer"]
        with pytest.raises(threads.ThreadError):
            threads.resume(g, "review-1", {"action": "approve"})


def test_follow_up_questions_use_the_conversation(corpus_store) -> None:
    ctx = context(corpus_store)
    with threads.rag_graph(corpus_store) as g:
        threads.ask(g, "Who kept the Hollowell lighthouse?", ctx, thread_id="memory")
        follow = threads.ask(g, "Where was she born?", ctx, thread_id="memory")
        state = g.get_state({"configurable": {"thread_id": "memory"}}).values
    assert state["search_question"] == "Where was Marta Vance born?"  # "she" is who the answer named
    assert "Tarrow" in follow.answer["answer"] and follow.answer["verified"]
    assert [t["question"] for t in state["history"]] == [
        "Who kept the Hollowell lighthouse?",
        "Where was she born?",
    ]


def test_resume_after_the_process_is_killed_while_waiting_for_review(corpus_store, tmp_path: Path) -> None:
    env = os.environ | {"CITEGRAPH_STORE_DIR": str(corpus_store.store_dir)}
    chat = subprocess.Popen(
        [sys.executable, "-m", "citegraph.cli", "chat", "--review", "--thread", "crash-1"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=0,
    )
    assert chat.stdin and chat.stdout
    chat.stdin.write("Who saved nine sailors?\n")
    chat.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 300
    # The review prompt ends without a newline: read whatever arrives, not lines.
    while "approve / edit / reject" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([chat.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(chat.stdout.fileno(), 4096).decode(errors="replace")
            if not chunk:
                break
            seen += chunk
    assert "Review requested" in seen, seen
    os.kill(chat.pid, signal.SIGKILL)  # dies while waiting for the reviewer
    chat.wait(30)

    resumed = subprocess.run(
        [sys.executable, "-m", "citegraph.cli", "resume", "crash-1", "--json", '{"action": "approve"}'],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    answer = json.loads(resumed.stdout)
    assert answer["verified"] and "nine sailors" in answer["answer"] and answer["citations"]
