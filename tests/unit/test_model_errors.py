"""One ModelNotFoundError for every model that does not resolve, and the server's 400 for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest
from fastapi.testclient import TestClient
from langgraph.graph import END, START, StateGraph

from citegraph.errors import ModelNotFoundError
from citegraph.models.paths import resolve_model_path
from citegraph.models.registry import load_chat_model
from citegraph.server.app import create_app
from citegraph.server.config import ServerConfig
from citegraph.server.graphs import RAG_MODEL, GraphSpec
from citegraph.settings import Settings


class State(TypedDict, total=False):
    question: str
    answer: dict


def answer_with_the_named_model(state: State) -> dict:
    # The question names the model spec, so one graph tries every kind of bad spec.
    load_chat_model(state["question"])
    return {"answer": {"answer": "unreachable", "citations": []}}


def graphs(settings: Settings, saver: Any) -> list[GraphSpec]:
    builder = StateGraph(State)
    builder.add_node("answer", answer_with_the_named_model)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return [GraphSpec(RAG_MODEL, builder.compile(checkpointer=saver), lambda options: None)]


def test_every_layer_raises_the_one_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="scratch model directory not found"):
        load_chat_model(f"scratch:{tmp_path / 'nope'}")
    with pytest.raises(ModelNotFoundError, match="does not resolve"):
        load_chat_model("bogus:x")
    with pytest.raises(ModelNotFoundError, match="model path does not exist"):
        load_chat_model(f"hf:{tmp_path / 'nope'}")
    with pytest.raises(ModelNotFoundError, match="not a local sentence-transformers folder"):
        resolve_model_path(tmp_path, "embedding")
    assert issubclass(ModelNotFoundError, FileNotFoundError)  # callers catching FileNotFoundError still do


def test_the_server_answers_a_missing_model_with_a_json_400(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    app = create_app(settings, ServerConfig(), graphs=graphs, store=object(), warm_up=False)
    with TestClient(app) as client:
        for spec in (f"scratch:{tmp_path / 'nope'}", "bogus:x"):
            body = {"model": RAG_MODEL, "messages": [{"role": "user", "content": spec}]}
            response = client.post("/v1/chat/completions", json=body)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "model_unavailable" and error["type"] == "invalid_request_error"
            assert error["message"].startswith("model not available: ")


def test_a_route_outside_a_graph_run_maps_it_too(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    app = create_app(settings, ServerConfig(), graphs=graphs, store=object(), warm_up=False)

    @app.get("/loads-a-model")
    def loads_a_model() -> dict:
        load_chat_model("bogus:x")
        return {}

    with TestClient(app) as client:
        response = client.get("/loads-a-model")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_unavailable"
