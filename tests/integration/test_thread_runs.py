"""A worker killed mid-run, on the default (SQLite + lock file) path: the thread shows ``running`` while its
worker lives and ``incomplete`` once it is dead, and the client's retry goes on from the last checkpoint
(the nodes that had finished do not run again). The worker is a real child process holding a real flock and
writing real SQLite checkpoints; the graph is a two-node toy so the kill lands in a known node."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from citegraph.server.errors import ApiError
from citegraph.server.graphs import GraphService, GraphSpec
from citegraph.server.locks import FileThreadLocks
from citegraph.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How deep is the harbour?"


class ToyState(TypedDict, total=False):
    question: str
    notes: Annotated[list[str], operator.add]
    answer: dict[str, Any]


def toy_spec(checkpointer: Any, log: Path, answer_seconds: float) -> GraphSpec:
    """search -> answer; each node appends its name to ``log``; answer takes ``answer_seconds``."""

    def search(state: ToyState) -> dict[str, Any]:
        with log.open("a") as handle:
            handle.write("search\n")
        return {"notes": [f"found for {state['question']}"]}

    def answer(state: ToyState) -> dict[str, Any]:
        with log.open("a") as handle:
            handle.write("answer\n")
        time.sleep(answer_seconds)
        text = f"{len(state['notes'])} note(s)"
        return {"answer": {"question": state["question"], "answer": text, "citations": []}}

    return two_node_spec(search, answer, checkpointer)


def two_node_spec(search: Callable, answer: Callable, checkpointer: Any) -> GraphSpec:
    """The "toy" model: START -> search -> answer -> END over ``ToyState``."""
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(ToyState)
    builder.add_node("search", search)
    builder.add_node("answer", answer)
    builder.add_edge(START, "search")
    builder.add_edge("search", "answer")
    builder.add_edge("answer", END)
    return GraphSpec("toy", builder.compile(checkpointer=checkpointer), lambda options: None)


def run_worker(store: str, log: str, request_key: str) -> None:
    """The child process: ask QUESTION on thread t1 with an answer node that never finishes in time."""
    from citegraph.checkpoint import open_checkpointer

    settings = Settings(store_dir=Path(store))
    with open_checkpointer(settings) as saver:
        service = GraphService(settings, saver, [toy_spec(saver, Path(log), answer_seconds=600)])
        service.ask("toy", QUESTION, "t1", {}, request_key=request_key)


def start_worker(store: Path, log: Path, request_key: str) -> subprocess.Popen:
    """``run_worker`` in a child process of its own (so it can be killed with SIGKILL)."""
    code = "import sys; from tests.integration.test_thread_runs import run_worker; run_worker(*sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, str(store), str(log), request_key], cwd=ROOT)


def wait_until_answering(service: GraphService, worker: subprocess.Popen, log: Path) -> None:
    """Until the worker runs the answer node and the checkpoint before it is saved. LangGraph saves
    checkpoints in the background while the next node runs, so the node starts before its checkpoint."""
    deadline = time.monotonic() + 120
    while True:
        if log.exists() and "answer" in log.read_text():
            with suppress(ApiError):  # 404 until the thread's first checkpoint is saved
                if service.thread("t1")["pending"] == ["answer"]:
                    return
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never reached answer"
        time.sleep(0.05)


def test_a_killed_worker_leaves_an_incomplete_thread_that_a_retry_finishes(tmp_path: Path) -> None:
    from citegraph.checkpoint import open_checkpointer

    store, log = tmp_path / "store", tmp_path / "nodes.log"
    store.mkdir()
    worker = start_worker(store, log, "request-1")
    settings = Settings(store_dir=store)
    try:
        with open_checkpointer(settings) as saver:
            service = GraphService(settings, saver, [toy_spec(saver, log, answer_seconds=0)])
            deadline = time.monotonic() + 120
            wait_until_answering(service, worker, log)
            thread = service.thread("t1")
            assert (thread["status"], thread["pending"]) == ("running", ["answer"])

            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            thread = service.thread("t1")
            assert (thread["status"], thread["pending"]) == ("incomplete", ["answer"])
            assert not service.locks.busy("t1")  # the kernel dropped the dead worker's flock

            outcome = service.ask("toy", QUESTION, "t1", {}, request_key="request-1")  # the client's retry
            assert outcome.resumed and outcome.status == "completed"
            assert outcome.answer["answer"] == "1 note(s)"  # search's note from before the kill, once
            assert log.read_text().split() == ["search", "answer", "answer"]  # search did not run again
            # Its reply lost too: the same key again gets the finished run back; nothing runs twice.
            replay = service.ask("toy", QUESTION, "t1", {}, request_key="request-1")
            assert replay.replayed and replay.answer == outcome.answer
            assert log.read_text().split() == ["search", "answer", "answer"]
            assert service.thread("t1")["status"] == "completed"
            with pytest.raises(ApiError) as nothing_left:
                service.go_on("t1")
            assert nothing_left.value.status == 409

            # A new question on a thread left incomplete starts over instead of finishing the old one.
            worker = start_worker(store, log, "request-2")
            while log.read_text().split().count("answer") < 3:
                assert worker.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            wait_until_answering(service, worker, log)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            assert service.thread("t1")["status"] == "incomplete"
            fresh = service.ask("toy", "Who built the pier?", "t1", {})
            assert not fresh.resumed and fresh.answer["question"] == "Who built the pier?"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_worker_killed_after_saving_a_result_but_before_its_checkpoint(tmp_path: Path) -> None:
    """LangGraph saves a finished task's writes, then the next checkpoint. A worker dying between the two
    leaves a state whose ``next`` is empty although the result is not applied: still an unfinished run."""
    from citegraph.checkpoint import open_checkpointer

    store, log = tmp_path / "store", tmp_path / "nodes.log"
    store.mkdir()
    worker = start_worker(store, log, "request-1")
    settings = Settings(store_dir=store)
    try:
        with open_checkpointer(settings) as saver:
            spec = toy_spec(saver, log, answer_seconds=0)
            service = GraphService(settings, saver, [spec])
            wait_until_answering(service, worker, log)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            # What the worker would have saved had it died a moment later: the answer node's result.
            snapshot = spec.graph.get_state({"configurable": {"thread_id": "t1"}})
            (task,) = snapshot.tasks
            saved = {"question": QUESTION, "answer": "saved before the crash", "citations": []}
            saver.put_writes(snapshot.config, [("answer", saved)], task.id)
            snapshot = spec.graph.get_state({"configurable": {"thread_id": "t1"}})
            assert snapshot.next == () and snapshot.tasks[0].result is not None  # looks done; is not

            thread = service.thread("t1")
            assert (thread["status"], thread["pending"]) == ("incomplete", ["answer"])
            outcome = service.ask("toy", QUESTION, "t1", {}, request_key="request-1")
            assert outcome.resumed and outcome.answer["answer"] == "saved before the crash"
            assert log.read_text().split() == ["search", "answer"]  # nothing ran again
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_file_locks_exclude_other_processes_and_die_with_them(tmp_path: Path) -> None:
    locks = FileThreadLocks(tmp_path / "locks")
    code = (
        "import sys, time; from pathlib import Path; from citegraph.server.locks import FileThreadLocks\n"
        "with FileThreadLocks(Path(sys.argv[1])).hold('t9'):\n"
        "    print('held', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "locks")], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert locks.busy("t9") and not locks.busy("another-thread")
        holder.kill()
        holder.wait(timeout=30)
        assert not locks.busy("t9")
        with locks.hold("t9"):
            assert locks.busy("t9")  # busy from another thread of this process too
        assert not locks.busy("t9")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_retry_after_a_step_raised_runs_the_step_again(tmp_path: Path) -> None:
    """A step that raises (a model that failed to load) gives the client a 500; its retry with the same
    idempotency key goes on from the last checkpoint and answers, instead of handing back the thread's
    state from before the question as if it had been answered."""
    from langgraph.checkpoint.memory import InMemorySaver

    ran: list[str] = []

    def search(state: ToyState) -> dict[str, Any]:
        ran.append("search")
        return {"notes": [f"found for {state['question']}"]}

    def answer(state: ToyState) -> dict[str, Any]:
        ran.append("answer")
        if ran.count("answer") == 1:
            raise ImportError("cannot import name 'BertConfig'")
        return {"answer": {"question": state["question"], "answer": "deep", "citations": []}}

    saver = InMemorySaver()
    spec = two_node_spec(search, answer, saver)
    service = GraphService(Settings(store_dir=tmp_path), saver, [spec])

    with pytest.raises(ImportError):
        service.ask("toy", QUESTION, "t1", {}, request_key="request-1")
    retry = service.ask("toy", QUESTION, "t1", {}, request_key="request-1")
    assert retry.resumed and not retry.replayed
    assert retry.answer["question"] == QUESTION and retry.answer["answer"] == "deep"
    assert ran == ["search", "answer", "answer"]  # search did not run again
