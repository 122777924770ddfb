"""The graphs of ``langgraph.json`` served by a real ``langgraph dev`` (in-memory LangGraph API server) on a
free loopback port, driven through ``langgraph_sdk`` the way Studio drives them: a thread, a ``rag`` run
that stops at the human review interrupt, its resume, the final cited answer; and one ``assistant`` run.

The server runs in a temporary working directory (it keeps its state in ``./.langgraph_api/``) from a copy
of the repository's ``langgraph.json`` whose relative paths are made absolute, so nothing lands in the
repository; it is stopped by its PID (its whole process group) at teardown."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from citegraph.answers import markers
from citegraph.server.process import ServedProcess
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).parent / "langgraph"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "OMP_NUM_THREADS": "1",
}


def absolute_config(workdir: Path) -> Path:
    """The repository's ``langgraph.json`` with its ``./`` paths resolved against the repository, written
    into ``workdir`` (the in-memory server resolves graph paths against its working directory)."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str((ROOT / dep).resolve()) for dep in config.get("dependencies", [])]
    graphs = {}
    for name, spec in config["graphs"].items():
        path, variable = spec.rsplit(":", 1)
        assert (ROOT / path).is_file(), f"langgraph.json names a missing file: {path}"
        graphs[name] = f"{(ROOT / path).resolve()}:{variable}"
    config["graphs"] = graphs
    target = workdir / "langgraph.json"
    target.write_text(json.dumps(config, indent=2))
    return target


class LangGraphDev(ServedProcess):
    """``langgraph dev`` in ``workdir`` over ``store``, ready when it answers ``/ok``."""

    def __init__(self, workdir: Path, store: Path, log: Path) -> None:
        env = {**os.environ, **OFFLINE, "CITEGRAPH_STORE_DIR": str(store)}
        for key in ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
            env.pop(key, None)
        config = absolute_config(workdir)

        def command(port: int) -> list[str]:
            return [
                str(LANGGRAPH),
                "dev",
                "--config",
                str(config),
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]

        super().__init__(command, log, "/ok", cwd=workdir, env=env)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory, embedder):
    if not LANGGRAPH.exists():
        pytest.skip("langgraph-cli[inmem] (the dev extra) is not installed in this environment")
    pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] (the dev extra) is not installed")
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.retrieval.store import HybridStore
    from citegraph.settings import Settings

    root = tmp_path_factory.mktemp("langgraph_dev")
    write_corpus(root / "corpus")
    settings = Settings(store_dir=root / "store")
    store = HybridStore(settings, embedder=embedder)
    try:
        assert ingest_paths(store, [root / "corpus"], settings).ok
    finally:
        store.close()
    workdir = root / "work"
    workdir.mkdir()
    server = LangGraphDev(workdir, root / "store", root / "langgraph_dev.log")
    try:
        server.wait_ready(timeout=180)
        yield server
    finally:
        server.stop()
    # The server's state went to its working directory, not to the repository.
    assert (workdir / ".langgraph_api").is_dir()


@pytest.fixture(scope="module")
def client(dev_server):
    from langgraph_sdk import get_sync_client

    with get_sync_client(url=dev_server.url, api_key=None, timeout=300) as sync_client:
        yield sync_client


def check_answer(answer: dict[str, Any]) -> None:
    """A published answer: verified, cited, every [n] marker backed by a citation with its quote."""
    assert answer["verified"] is True and answer["abstained"] is False, answer
    assert answer["citations"], answer
    numbers = {c["n"] for c in answer["citations"]}
    cited = set(markers(answer["answer"]))
    assert cited, answer["answer"]
    assert cited <= numbers, (cited, numbers)
    for citation in answer["citations"]:
        assert citation["quote"].strip() and citation["source"], citation


def test_server_lists_both_graphs(client) -> None:
    graph_ids = {a["graph_id"] for a in client.assistants.search(limit=20)}
    assert {"rag", "assistant"} <= graph_ids


def test_studio_shows_every_context_field_with_its_description(client) -> None:
    """Studio's configuration panel is the context schema: plain fields, each described."""
    for assistant in client.assistants.search(limit=20):
        if assistant["graph_id"] not in ("rag", "assistant"):
            continue
        schema = client.assistants.get_schemas(assistant["assistant_id"])["context_schema"]
        fields = schema["properties"]
        assert fields and "store_dir" in fields, schema
        for name, field in fields.items():
            assert field.get("description"), (assistant["graph_id"], name)
            assert field.get("type") in ("string", "integer", "number", "boolean"), (name, field)


def test_rag_run_stops_for_review_and_resumes(client) -> None:
    thread = client.threads.create()
    thread_id = thread["thread_id"]
    interrupts = []
    for part in client.runs.stream(
        thread_id,
        "rag",
        input={"question": "Who saved nine sailors?"},
        context={"review": True},
        stream_mode="updates",
    ):
        assert part.event != "error", part.data
        if part.event == "updates" and "__interrupt__" in part.data:
            interrupts.extend(part.data["__interrupt__"])
    assert len(interrupts) == 1, interrupts
    request = interrupts[0]["value"]
    assert request["type"] == "review"
    assert request["question"] == "Who saved nine sailors?"
    assert request["actions"] == ["approve", "edit", "reject"]
    draft = request["answer"]
    assert "nine sailors" in draft["answer"]
    check_answer(draft)

    # The thread waits at the review node with the draft in its state; nothing is published yet.
    state = client.threads.get_state(thread_id)
    assert state["next"] == ["review"]
    assert "answer" not in state["values"] or not state["values"]["answer"]
    assert state["tasks"][0]["interrupts"][0]["value"]["type"] == "review"

    final = client.runs.wait(
        thread_id, "rag", command={"resume": {"action": "approve"}}, context={"review": True}
    )
    answer = final["answer"]
    check_answer(answer)
    assert answer["answer"] == draft["answer"]
    assert any(c["source"].endswith("lighthouse.txt") for c in answer["citations"])
    assert "saved nine sailors" in " ".join(c["quote"] for c in answer["citations"])

    state = client.threads.get_state(thread_id)
    assert state["next"] == [] and not state["tasks"]
    assert state["values"]["answer"] == answer
    assert client.threads.get(thread_id)["status"] == "idle"


def test_assistant_run_uses_the_calculator(client) -> None:
    thread = client.threads.create()
    final = client.runs.wait(
        thread["thread_id"],
        "assistant",
        input={"messages": [{"role": "user", "content": "What is 15% of 240?"}]},
    )
    answer = final["answer"]
    assert [(s["tool"], s["ok"]) for s in answer["steps"]] == [("calculator", True)], answer
    assert "36" in answer["answer"], answer
    assert any(c["source"] == "tool:calculator" for c in answer["citations"]), answer


def test_assistant_plan_approval_interrupts_and_resumes(client) -> None:
    thread_id = client.threads.create()["thread_id"]
    waiting = client.runs.wait(
        thread_id,
        "assistant",
        input={"messages": [{"role": "user", "content": "What is 15% of 240?"}]},
        context={"approve_plan": True},
    )
    request = waiting["__interrupt__"][0]["value"]
    assert request["type"] == "plan_approval"
    assert [s["tool"] for s in request["plan"]] == ["calculator"]
    assert client.threads.get_state(thread_id)["next"] == ["review_plan"]  # nothing ran yet

    edited = [{"tool": "calculator", "args": {"expression": "20% of 240"}}]
    final = client.runs.wait(
        thread_id,
        "assistant",
        command={"resume": {"action": "edit", "plan": edited}},
        context={"approve_plan": True},
    )
    answer = final["answer"]
    assert [(s["tool"], s["ok"]) for s in answer["steps"]] == [("calculator", True)], answer
    assert "48" in answer["answer"], answer  # the human's edited plan is what ran
