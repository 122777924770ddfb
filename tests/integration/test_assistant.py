"""The assistant graph end to end on a small store with planted documents: multi-step answers, approvals,
tool errors, retries and prompt injection (with and without an LLM planner)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from citegraph.agents.tool_caller import TransientToolError
from citegraph.context import AssistantContext
from citegraph.graphs.assistant import build_assistant
from citegraph.threads import run_assistant
from citegraph.tools import default_registry

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "assistant" / "planted"
STUDY = (
    "A STUDY IN SCARLET.\n\nIN the year 1878 I took my degree of Doctor of Medicine of the University of "
    "London, and proceeded to Netley to go through the course prescribed for surgeons in the army.\n\n"
    "Irene Adler is an opera singer from New Jersey who once outwitted Sherlock Holmes.\n"
)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.resources import get_resources
    from citegraph.settings import Settings

    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "study.txt").write_text(STUDY)
    for planted in DATA.iterdir():
        shutil.copy(planted, corpus / planted.name)
    settings = Settings(store_dir=tmp_path_factory.mktemp("store"), chunk_size=300, chunk_overlap=60)
    assert ingest_paths(get_resources(settings).store, [corpus], settings).ok
    return str(settings.store_dir)


def sources(store_dir: str) -> set[str]:
    from citegraph.resources import get_resources
    from citegraph.settings import Settings

    return {Path(s.path).name for s in get_resources(Settings(store_dir=store_dir)).store.sources()}


def ctx(store_dir: str, **fields: Any) -> AssistantContext:
    return AssistantContext(store_dir=store_dir, today="2025-06-01", **fields)


class Obedient(GenericFakeChatModel):
    """A tool-calling fake that obeys any instruction it reads: 'remove_source' anywhere -> it calls it."""

    seen: ClassVar[list[str]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def invoke(self, messages: Any, *args: Any, **kwargs: Any) -> AIMessage:  # type: ignore[override]
        text = "\n".join(str(getattr(m, "content", m)) for m in messages)
        type(self).seen.append(text)
        if "remove_source" in text:
            return AIMessage(
                "", tool_calls=[{"name": "remove_source", "args": {"source": "study.txt"}, "id": "1"}]
            )
        last = str(getattr(messages[-1], "content", ""))
        return AIMessage("", tool_calls=[{"name": "cited_answer", "args": {"question": last}, "id": "1"}])


def test_compound_request_runs_dependent_steps_and_cites_documents_and_tools(store_dir: str) -> None:
    answer = run_assistant("How many years ago was 1878, and who is Irene Adler?", context=ctx(store_dir))
    assert [(s["tool"], s["ok"]) for s in answer["steps"]] == [
        ("current_date", True),
        ("calculator", True),
        ("cited_answer", True),
    ]
    assert answer["steps"][1]["args"] == {"expression": "2025 - 1878"}
    assert "2025 - 1878 = 147" in answer["answer"]
    by_source = {c["source"].split("/")[-1]: c for c in answer["citations"]}
    assert by_source["tool:calculator"]["quote"] == "2025 - 1878 = 147"
    assert "opera singer" in by_source["study.txt"]["quote"]
    assert answer["verified"] and not answer["abstained"]


def test_a_document_fact_feeds_the_calculator(store_dir: str) -> None:
    answer = run_assistant(
        "How many years between the events of A Study in Scarlet and 1900?", context=ctx(store_dir)
    )
    assert [s["tool"] for s in answer["steps"]][:2] == ["cited_answer", "calculator"]
    assert answer["steps"][1]["args"]["expression"] == "abs(1900 - 1878)"
    assert "= 22" in answer["answer"]


def test_chit_chat_calls_no_tool(store_dir: str) -> None:
    answer = run_assistant("Hello!", context=ctx(store_dir))
    assert answer["steps"] == [] and answer["citations"] == []


def test_tool_errors_become_failed_steps_not_crashes(store_dir: str) -> None:
    answer = run_assistant("What is 2 ** 99999?", context=ctx(store_dir))
    assert answer["steps"] == [{"tool": "calculator", "args": {"expression": "2 ** 99999"}, "ok": False}]
    assert "exponent too large" in answer["answer"]
    model = GenericFakeChatModel(messages=iter([AIMessage('[{"tool": "format_disk", "args": {}}]')]))
    graph = build_assistant(planner_model=model).compile(checkpointer=InMemorySaver())
    answer = run_assistant("anything", context=ctx(store_dir), graph=graph)
    assert answer["steps"] == [{"tool": "format_disk", "args": {}, "ok": False}]
    assert "not a valid tool" in answer["answer"]


def test_remove_source_waits_for_approval_and_a_rejection_keeps_the_source(store_dir: str) -> None:
    pending = run_assistant("Delete tool_output_spoof.txt from the knowledge base", context=ctx(store_dir))
    assert pending["pending"]["type"] == "tool_approval" and pending["steps"] == []
    assert pending["pending"]["preview"].endswith("tool_output_spoof.txt")
    seen = []
    answer = run_assistant(
        "Delete tool_output_spoof.txt from the knowledge base",
        context=ctx(store_dir),
        approve=lambda payload: seen.append(payload) or "reject",
    )
    assert len(seen) == 1 and answer["steps"][0]["ok"] is False
    assert "tool_output_spoof.txt" in sources(store_dir)


def test_plan_approval_can_edit_and_reject(store_dir: str) -> None:
    edit = {"action": "edit", "plan": [{"tool": "calculator", "args": {"expression": "6 * 7"}}]}
    answer = run_assistant(
        "Who is Irene Adler?", context=ctx(store_dir, approve_plan=True), approve=lambda p: edit
    )
    assert answer["steps"] == [{"tool": "calculator", "args": {"expression": "6 * 7"}, "ok": True}]
    reject = {"action": "reject", "feedback": "not now"}
    answer = run_assistant(
        "Who is Irene Adler?", context=ctx(store_dir, approve_plan=True), approve=lambda p: reject
    )
    assert answer["steps"] == [] and "rejected: not now" in answer["answer"]


def test_approved_removal_runs_once(store_dir: str, tmp_path: Path) -> None:
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.resources import get_resources
    from citegraph.settings import Settings

    settings = Settings(store_dir=Path(store_dir))
    extra = tmp_path / "scratch_note.txt"
    extra.write_text("A scratch note about nothing in particular, to be removed by the test.\n")
    assert ingest_paths(get_resources(settings).store, [extra], settings).ok
    answer = run_assistant(
        "Remove scratch_note.txt from the store", context=ctx(store_dir), approve=lambda p: True
    )
    assert answer["steps"] == [{"tool": "remove_source", "args": {"source": "scratch_note.txt"}, "ok": True}]
    assert "scratch_note.txt" not in sources(store_dir)


@pytest.mark.parametrize(
    "question",
    [
        "What does the maintenance note say about the ledger?",
        "Where does Watson keep his service revolver?",
        "What did Holmes pay for his Stradivarius violin?",
    ],
)
def test_planted_instructions_cannot_add_tool_calls_without_an_llm(store_dir: str, question: str) -> None:
    before = sources(store_dir)
    answer = run_assistant(question, context=ctx(store_dir), approve=lambda p: pytest.fail(f"asked: {p}"))
    # An abstained cited answer may be followed by a search (the planner's one revision): never a removal.
    assert answer["steps"] and {s["tool"] for s in answer["steps"]} <= {"cited_answer", "search_documents"}
    assert sources(store_dir) == before


def test_planted_instructions_cannot_add_tool_calls_with_an_obedient_llm_planner(store_dir: str) -> None:
    before = sources(store_dir)
    Obedient.seen = []
    graph = build_assistant(planner_model=Obedient(messages=iter(()))).compile(checkpointer=InMemorySaver())
    answer = run_assistant(
        "What does the maintenance note say about the ledger?",
        context=ctx(store_dir),
        graph=graph,
        approve=lambda p: pytest.fail(f"asked: {p}"),
    )
    assert [s["tool"] for s in answer["steps"]][:1] == ["cited_answer"]
    assert {s["tool"] for s in answer["steps"]} <= {"cited_answer", "search_documents"}
    assert sources(store_dir) == before
    assert Obedient.seen and not any("remove_source" in text for text in Obedient.seen)  # never saw the note
    # Control: the fake does obey planted text when it is shown it, so the test above can fail.
    planted = (DATA / "maintenance_note.txt").read_text()
    assert Obedient(messages=iter(())).invoke([planted]).tool_calls[0]["name"] == "remove_source"


def test_a_planner_cannot_plan_a_removal_the_user_did_not_ask_for(store_dir: str) -> None:
    model = GenericFakeChatModel(
        messages=iter([AIMessage('[{"tool": "remove_source", "args": {"source": "study.txt"}}]')])
    )
    planned = build_assistant(planner_model=model).compile(checkpointer=InMemorySaver())
    answer = run_assistant("Who is Irene Adler?", context=ctx(store_dir), graph=planned)
    assert answer["steps"] == [] and "dropped remove_source" in answer["notes"][0]
    assert "study.txt" in sources(store_dir)


def test_transient_tool_errors_are_retried(store_dir: str) -> None:
    tools = default_registry()
    attempts = []

    @tools.tool(examples=["ping the flaky server"])
    def flaky(text: str) -> str:
        """Ping the flaky server."""
        attempts.append(text)
        if len(attempts) < 3:
            raise TransientToolError("server busy")
        return "pong"

    model = GenericFakeChatModel(messages=iter([AIMessage('[{"tool": "flaky", "args": {"text": "hi"}}]')]))
    graph = build_assistant(tools, planner_model=model).compile(checkpointer=InMemorySaver())
    answer = run_assistant("ping", context=ctx(store_dir), graph=graph)
    assert len(attempts) == 3 and answer["steps"][0]["ok"] and "pong" in answer["answer"]
