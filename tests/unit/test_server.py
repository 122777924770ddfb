"""The HTTP layer over a stub graph (real LangGraph, real checkpointer, no models): OpenAI shape, SSE,
threads, reviews, auth, limits and JSON errors."""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from fastapi.testclient import TestClient
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from citegraph.retrieval.query import QueryError
from citegraph.server.app import create_app
from citegraph.server.config import ServerConfig
from citegraph.server.graphs import RAG_MODEL, GraphSpec, build_context
from citegraph.settings import Settings

KEY = "s3cret-key"


@dataclass
class StubContext:
    review: bool = False
    strategy: str = "extract"
    top_k: int = 5


class StubState(TypedDict, total=False):
    question: str
    history: Annotated[list[dict], operator.add]
    draft: dict
    answer: dict


def _answer_for(question: str, feedback: str = "") -> dict:
    text = f"You asked about {question} [1]." + (f" Revised after: {feedback} [1]." if feedback else "")
    citation = {
        "n": 1,
        "chunk_id": "c1",
        "source": "/docs/a.txt",
        "location": "chars 0-4",
        "quote": "abcd",
        "start": 0,
        "end": 4,
    }
    return {
        "question": question,
        "answer": text,
        "citations": [citation],
        "abstained": False,
        "verified": True,
    }


def write(state: StubState, runtime: Runtime[StubContext]) -> dict:
    if state["question"].strip() == "":
        raise QueryError("the question is empty")
    return {"draft": _answer_for(state["question"], state.get("draft", {}).get("feedback", ""))}


def review(state: StubState, runtime: Runtime[StubContext]) -> dict:
    draft = state["draft"]
    if runtime.context.review:
        decision = interrupt({"type": "review", "question": state["question"], "answer": draft})
        if decision["action"] == "edit":
            draft = {**draft, "answer": decision["text"]}
        elif decision["action"] == "reject":
            return {"draft": {**draft, "feedback": decision.get("feedback", "")}}
    return {"answer": draft}


def publish(state: StubState) -> dict:
    writer = get_stream_writer()
    for word in state["answer"]["answer"].split(" "):
        writer({"event": "token", "text": word + " "})
    return {"history": [{"question": state["question"], "answer": state["answer"]["answer"]}]}


def stub_graphs(settings: Settings, saver: Any) -> list[GraphSpec]:
    builder = StateGraph(StubState, context_schema=StubContext)
    builder.add_node("write", write)
    builder.add_node("review", review)
    builder.add_node("publish", publish)
    builder.add_edge(START, "write")
    builder.add_edge("write", "review")
    builder.add_conditional_edges("review", lambda s: "publish" if "answer" in s else "write")
    builder.add_edge("publish", END)
    graph = builder.compile(checkpointer=saver)
    return [GraphSpec(RAG_MODEL, graph, lambda options: build_context(StubContext, options, settings))]


class FakeStore:
    """Just enough of HybridStore for the source endpoints."""

    def __init__(self) -> None:
        from citegraph.retrieval.manifest import SourceRecord

        self.record = SourceRecord("abc123", "/docs/a.txt", "txt", "A", "h", "0123456789" * 10, (), 0.0)

    def source(self, source_id: str):
        return self.record if source_id == self.record.source_id else None

    def sources(self):
        return [replace(self.record, text="")]  # as HybridStore lists them: without their text

    class manifest:
        @staticmethod
        def chunk_counts() -> dict[str, int]:
            return {"abc123": 3}

        @staticmethod
        def text_lengths() -> dict[str, int]:
            return {"abc123": 100}


@pytest.fixture
def make_client(tmp_path: Path):
    clients = []

    def make(**config: Any) -> TestClient:
        settings = Settings(store_dir=tmp_path / "store")
        app = create_app(
            settings, ServerConfig(**config), graphs=stub_graphs, store=FakeStore(), warm_up=False
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def chat(client: TestClient, question: str, **extra: Any):
    body = {"model": RAG_MODEL, "messages": [{"role": "user", "content": question}], **extra}
    return client.post("/v1/chat/completions", json=body)


def test_models_list_the_graphs_and_unknown_models_are_a_json_404(make_client) -> None:
    client = make_client()
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == [RAG_MODEL]
    response = chat(client, "hi", model="citegraph-assistant")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and "not part of this install" in error["message"]


def test_chat_completion_has_openai_shape_with_citations_and_a_thread(make_client) -> None:
    client = make_client()
    response = chat(client, "lighthouses")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == RAG_MODEL
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "You asked about lighthouses [1].",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["citations"][0]["n"] == 1 and body["citations"][0]["source_id"]
    assert body["status"] == "completed" and body["verified"] is True
    assert response.headers["x-thread-id"] == body["thread_id"]
    # Without a thread id every request is a new thread.
    assert chat(client, "again").json()["thread_id"] != body["thread_id"]


def test_thread_ids_from_body_header_or_user_keep_the_conversation(make_client) -> None:
    client = make_client()
    chat(client, "first", thread_id="conv-1")
    chat(client, "second", thread_id="conv-1")
    thread = client.get("/api/threads/conv-1").json()
    assert [turn["question"] for turn in thread["history"]] == ["first", "second"]
    assert thread["status"] == "completed" and thread["answer"]["question"] == "second"
    body = {"model": RAG_MODEL, "messages": [{"role": "user", "content": "via header"}]}
    assert (
        client.post("/v1/chat/completions", json=body, headers={"X-Thread-Id": "conv-2"}).json()["thread_id"]
        == "conv-2"
    )
    assert chat(client, "via user", user="alice@example.com").json()["thread_id"] == "alice@example.com"
    assert client.get("/api/threads/nobody").status_code == 404
    assert chat(client, "bad", thread_id="has space").status_code == 400


def test_streaming_sends_tokens_then_citations_then_done(make_client) -> None:
    client = make_client()
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": RAG_MODEL, "messages": [{"role": "user", "content": "streams"}], "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.strip() == "You asked about streams [1]."
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"][0]["quote"] == "abcd"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_review_pauses_then_edit_approve_and_reject_resume_it(make_client) -> None:
    client = make_client()
    body = chat(client, "review me", thread_id="r1", review=True).json()
    assert body["status"] == "review" and body["review"]["type"] == "review"
    assert body["choices"][0]["message"]["content"] == "You asked about review me [1]."
    # A new question while the review waits is refused, and nothing is lost.
    refused = chat(client, "another", thread_id="r1")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "review_pending"
    assert client.get("/api/threads/r1").json()["status"] == "review"
    # Bad decisions are clear 400s.
    assert client.post("/api/threads/r1/review", json={"action": "edit"}).status_code == 400
    assert client.post("/api/threads/r1/review", json={"action": "shrug"}).status_code == 400
    # Reject with feedback: the answer is rewritten and reviewed again (the options were kept).
    again = client.post("/api/threads/r1/review", json={"action": "reject", "feedback": "too short"}).json()
    assert again["status"] == "review" and "Revised after: too short" in again["answer"]["answer"]
    edited = client.post("/api/threads/r1/review", json={"action": "edit", "text": "Edited [1]."}).json()
    assert edited["status"] == "completed" and edited["answer"]["answer"] == "Edited [1]."
    none_left = client.post("/api/threads/r1/review", json={"action": "approve"})
    assert none_left.status_code == 409 and none_left.json()["error"]["code"] == "no_pending_review"
    chat(client, "approve me", thread_id="r2", review=True)
    approved = client.post("/api/threads/r2/review", json={"action": "approve"}).json()
    assert approved["answer"]["answer"] == "You asked about approve me [1]."


def test_auth_guards_the_api_but_not_the_page_or_health(make_client) -> None:
    client = make_client(api_key=KEY)
    assert client.get("/healthz").json() == {"ok": True, "auth": True}
    assert client.get("/").status_code == 200
    missing = client.get("/v1/models")
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/sources", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_bad_requests_get_clear_json_errors(make_client) -> None:
    client = make_client(max_body_kb=4)
    cases = [
        (
            client.post(
                "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
        ),
        (client.post("/v1/chat/completions", json={"model": RAG_MODEL, "messages": []}), 400),
        (client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}), 400),
        (chat(client, "   "), 400),
        (chat(client, "x", n=2), 400),
        (
            client.post(
                "/v1/chat/completions",
                json={"model": RAG_MODEL, "messages": [{"role": "assistant", "content": "I am last"}]},
            ),
            400,
        ),
        (chat(client, "x" * 10_000), 413),
        (client.get("/v1/nowhere"), 404),
        (client.get("/api/sources/abc123/passage", params={"start": 5, "end": 500}), 400),
        (client.delete("/api/sources/unknown"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["message"] and error["type"]
    assert "question is empty" in chat(client, "   ").json()["error"]["message"]


def test_a_body_without_content_length_is_still_limited(make_client) -> None:
    client = make_client(max_body_kb=1)

    def chunks():
        yield b'{"model": "citegraph-rag", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    response = client.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_sources_and_passages(make_client) -> None:
    client = make_client()
    rows = client.get("/api/sources").json()["data"]
    assert rows == [
        {
            "source_id": "abc123",
            "source": "/docs/a.txt",
            "name": "a.txt",
            "title": "A",
            "kind": "txt",
            "chunks": 3,
            "characters": 100,
            "ingested_at": 0.0,
        }
    ]
    passage = client.get("/api/sources/abc123/passage", params={"start": 12, "end": 15, "context": 5}).json()
    assert (passage["before"], passage["quote"], passage["after"]) == ("78901", "234", "56789")
    unsupported = client.post("/api/sources", files={"files": ("evil.exe", b"MZ")})
    assert unsupported.status_code == 415 and unsupported.json()["error"]["code"] == "unsupported_file_type"
    assert client.post("/api/sources").status_code == 400


def test_safe_filenames() -> None:
    from citegraph.server.errors import ApiError
    from citegraph.server.native_routes import safe_filename

    assert safe_filename("../../etc/notes.txt") == "notes.txt"
    assert safe_filename("C:\\docs\\Report (final).pdf") == "Report _final_.pdf"
    assert safe_filename(".hidden.txt") == "hidden.txt"
    for bad in ["", "..", "noext", "a.exe"]:
        with pytest.raises(ApiError):
            safe_filename(bad)


def test_serve_refuses_a_public_bind_without_a_key() -> None:
    from typer.testing import CliRunner

    from citegraph.cli import app
    from citegraph.server.cli import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"CITEGRAPH_API_KEY": ""})
    assert result.exit_code == 2 and "--api-key" in result.output
