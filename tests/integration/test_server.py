"""The real server (``citegraph serve`` under uvicorn on a free loopback port, started here and stopped by
PID) answering the official ``openai`` client, plus the native endpoints: upload, sources, threads, review,
and a killed worker whose pending review another process resumes from the checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from citegraph.retrieval.manifest import Manifest
from citegraph.server.process import ServerProcess as SharedServerProcess
from tests.integration.corpus import write_corpus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-123"


class ServerProcess(SharedServerProcess):
    """The shared server process with the test key and one torch thread per server."""

    def __init__(
        self, store: Path, log: Path, env: dict[str, str] | None = None, workers: int = 1, api_key: str = KEY
    ) -> None:
        super().__init__(store, log, api_key, env={"OMP_NUM_THREADS": "1", **(env or {})}, workers=workers)


def ingest(store: Path, folder: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "citegraph.cli", "ingest", str(folder), "--store", str(store), "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    write_corpus(root / "corpus")
    ingest(root / "store", root / "corpus")
    server = ServerProcess(root / "store", root / "server.log").wait_ready()
    yield server, root
    server.stop()


def openai_client(server: ServerProcess, key: str | None = None):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=key or server.api_key, max_retries=0, timeout=300)


def check_citations(citations: list[dict]) -> None:
    assert citations
    for c in citations:
        text = Path(c["source"]).read_bytes()  # quote == source_text[start:end] (checked on the txt source)
        assert c["quote"] and c["end"] > c["start"]
        if c["source"].endswith(".txt"):
            assert c["quote"] == text.decode()[c["start"] : c["end"]]


def test_openai_client_non_streaming_and_models(served) -> None:
    server, _ = served
    client = openai_client(server)
    assert [m.id for m in client.models.list()] == ["citegraph-rag"] or "citegraph-rag" in [
        m.id for m in client.models.list()
    ]
    completion = client.chat.completions.create(
        model="citegraph-rag",
        messages=[{"role": "user", "content": "How many sailors did Marta Vance save?"}],
    )
    text = completion.choices[0].message.content
    assert "nine" in text and "[1]" in text
    extra = completion.model_extra
    assert extra["status"] == "completed" and extra["thread_id"]
    check_citations(extra["citations"])
    assert any("lighthouse.txt" in c["source"] for c in extra["citations"])


def test_openai_client_streaming_matches_the_answer(served) -> None:
    server, _ = served
    client = openai_client(server)
    question = [{"role": "user", "content": "Who designed the Kestrel bridge?"}]
    stream = client.chat.completions.create(model="citegraph-rag", messages=question, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert "Agnes Thorne" in text and "[1]" in text
    citations = last.model_extra["citations"]
    assert any(c["source"].endswith("bridge.pdf") for c in citations)
    again = client.chat.completions.create(model="citegraph-rag", messages=question)
    assert again.choices[0].message.content == text


def test_an_abstention_carries_its_closest_passages(served) -> None:
    server, _ = served
    question = [{"role": "user", "content": "What colour was the schooner Pelican painted?"}]
    completion = openai_client(server).chat.completions.create(model="citegraph-rag", messages=question)
    extra = completion.model_extra
    assert extra["abstained"] and not extra["citations"]
    assert completion.choices[0].message.content == "The documents do not say."
    # Where to read on: quoted as written, each with the source id the passage endpoint takes.
    closest = extra["closest"]
    check_citations(closest)
    assert "Pelican" in closest[0]["quote"] and all(c["source_id"] for c in closest)


def test_errors_reach_the_openai_client_as_its_exceptions(served) -> None:
    import openai

    server, _ = served
    with pytest.raises(openai.AuthenticationError):
        openai_client(server, key="wrong").models.list()
    client = openai_client(server)
    with pytest.raises(openai.NotFoundError, match=r"no-such-model"):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="question"):
        client.chat.completions.create(
            model="citegraph-rag", messages=[{"role": "user", "content": "  \x00 "}]
        )


def test_conversation_memory_and_review_over_http(served) -> None:
    server, _ = served
    client = openai_client(server)
    tid = f"conv-{time.time_ns()}"
    client.chat.completions.create(
        model="citegraph-rag",
        messages=[{"role": "user", "content": "Where is the Pellam observatory?"}],
        extra_body={"thread_id": tid},
    )
    draft = client.chat.completions.create(
        model="citegraph-rag",
        messages=[{"role": "user", "content": "Who discovered the comet Korda-7?"}],
        extra_body={"thread_id": tid, "review": True},
    )
    assert draft.model_extra["status"] == "review" and draft.model_extra["review"]["type"] == "review"
    thread = httpx.get(f"{server.url}/api/threads/{tid}", headers=server.headers()).json()
    assert thread["status"] == "review" and thread["options"]["review"] is True
    assert len(thread["history"]) == 1  # the first turn; the second waits for its review
    done = httpx.post(
        f"{server.url}/api/threads/{tid}/review",
        json={"action": "approve"},
        headers=server.headers(),
        timeout=300,
    ).json()
    assert done["status"] == "completed" and "Ilse Korda" in done["answer"]["answer"]
    thread = httpx.get(f"{server.url}/api/threads/{tid}", headers=server.headers()).json()
    assert [turn["question"] for turn in thread["history"]] == [
        "Where is the Pellam observatory?",
        "Who discovered the comet Korda-7?",
    ]


def test_a_retried_request_with_an_idempotency_key_runs_once(served) -> None:
    server, _ = served
    client = openai_client(server)
    tid = f"retry-{time.time_ns()}"
    request = {
        "model": "citegraph-rag",
        "messages": [{"role": "user", "content": "Where is the Pellam observatory?"}],
        "extra_body": {"thread_id": tid},
        "extra_headers": {"Idempotency-Key": f"key-{tid}"},
    }
    first = client.chat.completions.create(**request)
    retry = client.chat.completions.create(**request)  # as if the first reply had been lost
    assert not first.model_extra["replayed"] and retry.model_extra["replayed"]
    assert retry.choices[0].message.content == first.choices[0].message.content
    again = client.chat.completions.create(**{**request, "extra_headers": {"Idempotency-Key": "other"}})
    assert not again.model_extra["replayed"]  # a new key is a new request: a second turn
    thread = httpx.get(f"{server.url}/api/threads/{tid}", headers=server.headers()).json()
    assert [turn["question"] for turn in thread["history"]] == ["Where is the Pellam observatory?"] * 2


def test_upload_ask_and_remove_a_source(served, tmp_path: Path) -> None:
    server, root = served
    note = (
        "The Vellin glassworks was founded by Petra Osk in 1874. It made green bottles for the town of Ambry."
    )
    files = {"files": ("glassworks.txt", note.encode(), "text/plain")}
    report = httpx.post(
        f"{server.url}/api/sources", files=files, headers=server.headers(), timeout=300
    ).json()
    assert report["ok"] and report["files"][0]["status"] == "added"
    sources = httpx.get(f"{server.url}/api/sources", headers=server.headers()).json()["data"]
    row = next(s for s in sources if s["name"] == "glassworks.txt")
    # The listing once said 0 characters for every source: it reads the records without their text.
    manifest = Manifest(root / "store" / "manifest.sqlite")
    texts = {s["source_id"]: manifest.source(s["source_id"]).text for s in sources}  # type: ignore[union-attr]
    manifest.close()
    assert row["characters"] == len(note)
    assert {s["source_id"]: s["characters"] for s in sources} == {sid: len(t) for sid, t in texts.items()}
    client = openai_client(server)
    answer = client.chat.completions.create(
        model="citegraph-rag", messages=[{"role": "user", "content": "Who founded the Vellin glassworks?"}]
    )
    assert "Petra Osk" in answer.choices[0].message.content
    cited = answer.model_extra["citations"][0]
    passage = httpx.get(
        f"{server.url}/api/sources/{cited['source_id']}/passage",
        params={"start": cited["start"], "end": cited["end"]},
        headers=server.headers(),
    ).json()
    assert passage["quote"] == cited["quote"]
    # A bad upload of the same name is refused by the loader with a 422 (it was a 200 with "ok": false)
    # and the good file stays in place, in the folder and in the store.
    bad = {"files": ("glassworks.txt", b"\x00\x01\x02" * 10, "text/plain")}
    refused = httpx.post(f"{server.url}/api/sources", files=bad, headers=server.headers(), timeout=300)
    assert refused.status_code == 422
    assert refused.json() == {
        "error": {
            "message": "cannot ingest glassworks.txt: binary file, not text",
            "type": "invalid_request_error",
            "param": "files",
            "code": "file_not_ingested",
        }
    }
    assert Path(row["source"]).read_text() == note
    assert httpx.get(f"{server.url}/api/sources", headers=server.headers()).json()["data"] == sources
    # An upload is all or nothing: with one bad file, the good one beside it is not ingested either.
    mixed = [
        ("files", ("pier.md", b"# Pier\n\nThe Ambry pier is three hundred metres long.\n", "text/markdown")),
        ("files", ("scan.pdf", b"scanned, not a PDF", "application/pdf")),
    ]
    refused = httpx.post(f"{server.url}/api/sources", files=mixed, headers=server.headers(), timeout=300)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "cannot ingest scan.pdf: not a PDF (no %PDF header): corrupt or misnamed file "
        "(nothing from this upload was ingested)"
    )
    assert httpx.get(f"{server.url}/api/sources", headers=server.headers()).json()["data"] == sources
    assert sorted(p.name for p in (root / "store" / "uploads").iterdir()) == ["glassworks.txt"]
    removed = httpx.delete(
        f"{server.url}/api/sources/{row['source_id']}", headers=server.headers(), timeout=300
    )
    assert removed.status_code == 200 and removed.json()["files"][0]["status"] == "removed"
    sources = httpx.get(f"{server.url}/api/sources", headers=server.headers()).json()["data"]
    assert "glassworks.txt" not in {s["name"] for s in sources}


def test_a_killed_server_leaves_a_review_that_a_new_one_resumes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_corpus(tmp_path / "corpus")
    ingest(store, tmp_path / "corpus")
    first = ServerProcess(store, tmp_path / "first.log").wait_ready()
    try:
        draft = openai_client(first).chat.completions.create(
            model="citegraph-rag",
            messages=[{"role": "user", "content": "When did the Quillon bakery's founder arrive?"}],
            extra_body={"thread_id": "survivor", "review": True},
        )
        assert draft.model_extra["status"] == "review"
    finally:
        first.kill()
    second = ServerProcess(store, tmp_path / "second.log").wait_ready()
    try:
        done = httpx.post(
            f"{second.url}/api/threads/survivor/review",
            json={"action": "approve"},
            headers=second.headers(),
            timeout=300,
        ).json()
        # Approving publishes exactly the draft the killed server had shown.
        assert done["status"] == "completed" and done["answer"]["answer"] == draft.choices[0].message.content
        assert done["answer"]["citations"] == draft.model_extra["citations"]
    finally:
        second.stop()
