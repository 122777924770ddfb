"""The server's chat-model choice: a deployment lists the specs a request may choose
(``CITEGRAPH_SERVER_CHAT_MODELS``), ``/v1/models`` shows ``<graph>/<spec>`` for each, and an OpenAI client
chooses with ``model``. A stub graph reports the context it ran with, so no model is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest
from fastapi.testclient import TestClient
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from citegraph.context import RagContext
from citegraph.server.app import create_app
from citegraph.server.config import ServerConfig
from citegraph.server.graphs import RAG_MODEL, GraphSpec, build_context
from citegraph.settings import Settings


class State(TypedDict, total=False):
    question: str
    answer: dict


def report_context(state: State, runtime: Runtime[RagContext]) -> dict:
    text = f"{runtime.context.strategy} with {runtime.context.model}"
    return {"answer": {"question": state["question"], "answer": text, "citations": []}}


def graphs(settings: Settings, saver: Any) -> list[GraphSpec]:
    builder = StateGraph(State, context_schema=RagContext)
    builder.add_node("answer", report_context)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    graph = builder.compile(checkpointer=saver)
    return [GraphSpec(RAG_MODEL, graph, lambda options: build_context(RagContext, options, settings))]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("CITEGRAPH_SERVER_CHAT_MODELS", "gguf:smollm2, openai:gpt-4o-mini")
    app = create_app(
        Settings(store_dir=tmp_path / "store"), ServerConfig(), graphs=graphs, store=object(), warm_up=False
    )
    with TestClient(app) as test_client:
        yield test_client


def ask(client: TestClient, model: str, **extra: Any) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "Who designed the bridge?"}], **extra}
    return client.post("/v1/chat/completions", json=body)


def test_the_models_a_deployment_offers_are_listed_per_graph(client: TestClient) -> None:
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == [RAG_MODEL, f"{RAG_MODEL}/gguf:smollm2", f"{RAG_MODEL}/openai:gpt-4o-mini"]
    assert client.get(f"/v1/models/{RAG_MODEL}/openai:gpt-4o-mini").json()["id"] == ids[2]


def test_a_request_chooses_its_chat_model_with_model(client: TestClient) -> None:
    default = ask(client, RAG_MODEL).json()
    assert default["choices"][0]["message"]["content"] == f"extract with {RagContext().model}"
    chosen = ask(client, f"{RAG_MODEL}/openai:gpt-4o-mini").json()
    assert chosen["choices"][0]["message"]["content"] == "generate with openai:gpt-4o-mini"
    assert chosen["model"] == f"{RAG_MODEL}/openai:gpt-4o-mini"
    extract = ask(client, f"{RAG_MODEL}/gguf:smollm2", strategy="extract").json()  # the body still wins
    assert extract["choices"][0]["message"]["content"] == "extract with gguf:smollm2"


def test_a_model_the_deployment_does_not_offer_is_a_404(client: TestClient) -> None:
    response = ask(client, f"{RAG_MODEL}/anthropic:claude-sonnet-4-5")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and "gguf:smollm2, openai:gpt-4o-mini" in error["message"]
    assert client.get(f"/v1/models/{RAG_MODEL}/hf:smollm2").status_code == 404
