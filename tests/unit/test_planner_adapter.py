"""The planner adapter at toy size: the synthesized plan data, the tuned prompt, training one adapter on a
tiny random Mistral made here, and the planner's ``tuned`` mode (plans validated, task marker, class)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402

from citegraph.agents.planner import LLMPlanner, plan_class, tool_brief  # noqa: E402
from citegraph.agents.prompts import tuned_plan_messages  # noqa: E402
from citegraph.models.lora import plan_data  # noqa: E402
from citegraph.models.lora.data import messages_as_dicts  # noqa: E402
from citegraph.models.lora.tiny import tiny_mistral  # noqa: E402
from citegraph.tools import REGISTRY  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _fake(reply: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(reply)]))


# -- data ------------------------------------------------------------------------------------------------


def test_generation_is_deterministic_and_every_target_is_a_valid_plan():
    first, held = plan_data.split_items(300, 80, train_seed=0, held_out_seed=1)
    again, held_again = plan_data.split_items(300, 80, train_seed=0, held_out_seed=1)
    assert [i.plan_json() for i in first] == [i.plan_json() for i in again]
    assert [i.request for i in held] == [i.request for i in held_again]
    plan_data.check_items([*first, *held], REGISTRY)  # raises on an unknown tool or bad arguments
    kinds = {i.kind for i in first}
    assert kinds == {"single", "multi", "chat", "injection", "follow_up"}
    assert {t for i in first for t in i.tools} == set(REGISTRY.names)


def test_held_out_split_shares_no_request_and_no_person_with_training():
    train, held = plan_data.split_items(300, 80)
    assert not {(i.request, i.history) for i in train} & {(i.request, i.history) for i in held}
    train_people = {name for name, _ in plan_data.TRAIN_BANK.people}
    for item in held:
        assert not any(name in item.request for name in train_people)
    held_templates = set(plan_data.HELD_OUT_BANK.questions) | set(plan_data.HELD_OUT_BANK.searches)
    assert not held_templates & (set(plan_data.TRAIN_BANK.questions) | set(plan_data.TRAIN_BANK.searches))


def test_step_references_point_to_an_earlier_step_that_gives_a_year():
    items, _ = plan_data.split_items(400, 0)
    referring = [i for i in items if any("$step" in a.get("expression", "") for _, a in i.steps)]
    assert referring
    for item in referring:
        for position, (_tool, args) in enumerate(item.steps):
            for n in re.findall(r"\$step(\d+)\.year", args.get("expression", "")):
                assert int(n) <= position and item.steps[int(n) - 1][0] in {"current_date", "cited_answer"}


def test_clauses_of_multi_step_requests_are_cut_as_the_planner_cuts_them_with_their_own_plans():
    from citegraph.agents.planner import split_request

    items, _ = plan_data.split_items(400, 0)
    clauses = plan_data.clause_items(items)
    multi = [i for i in items if i.kind == "multi"]
    assert clauses and len(clauses) <= 3 * len(multi)
    plan_data.check_items(clauses, REGISTRY)
    assert not {c.request for c in clauses} & {i.request for i in items}  # nothing twice
    for item in multi:
        cut = split_request(item.request)
        # Each part's plan, its references renumbered from $step1, joins back into the whole request's plan.
        rejoined = [step for _, steps in item.parts for step in steps]
        assert [tool for tool, _ in rejoined] == item.tools
        if len(cut) == len(item.parts):
            by_clause = {c.request: c for c in clauses}
            for clause, (_, steps) in zip(cut, item.parts, strict=True):
                if clause in by_clause:
                    assert by_clause[clause].steps == steps and by_clause[clause].kind == "clause"
    for clause in clauses:
        for position, (_tool, args) in enumerate(clause.steps):
            for n in re.findall(r"\$step(\d+)", args.get("expression", "")):
                assert 1 <= int(n) <= position
    # A joiner word stays in the clause the planner sees; the question it asks is the clause without it.
    assert any(c.request.split()[0].lower() in {"also,", "also", "plus", "and"} for c in clauses)


def test_records_use_the_tuned_prompt_and_follow_ups_resolve_the_pronoun():
    items, _ = plan_data.split_items(200, 0)
    brief = tool_brief(REGISTRY)
    follow_up = next(i for i in items if i.kind == "follow_up")
    record = follow_up.record(brief)
    expected = messages_as_dicts(tuned_plan_messages(brief, follow_up.request, follow_up.history))
    assert record["messages"] == expected
    assert record["messages"][1]["content"].startswith("Earlier request: ")
    question = json.loads(record["answer"])["steps"][0]["args"]["question"]
    person = next(name for name, _ in plan_data.TRAIN_BANK.people if name in follow_up.history[0])
    assert person in question
    assert brief.startswith("search_documents(query), cited_answer(question), calculator(expression)")


def test_injection_attempts_plan_nothing_but_a_quoted_phrase_is_searched():
    items, _ = plan_data.split_items(600, 0)
    injections = [i for i in items if i.kind == "injection"]
    assert any(i.tools == [] for i in injections)
    assert all(i.tools in ([], ["search_documents"]) for i in injections)
    assert all("remove_source" not in i.tools for i in items if i.kind != "single")


def test_plan_classes():
    assert plan_class([]) == "chat"
    assert plan_class(None) is None
    assert plan_class(["current_date", "calculator"]) == "calculation"
    assert plan_class(["cited_answer", "search_documents"]) == "documents"
    assert plan_class(["cited_answer", "calculator"]) == "mixed"


# -- the tuned planner mode ------------------------------------------------------------------------------


def test_tuned_mode_keeps_a_valid_plan_and_refuses_an_invalid_one():
    plan = {
        "steps": [
            {"tool": "current_date", "args": {}},
            {"tool": "calculator", "args": {"expression": "$step1.year - 1900"}},
        ]
    }
    good = f"Sure. {json.dumps(plan)} trailing"  # text around the object is tolerated
    steps, why = LLMPlanner(_fake(good), REGISTRY, mode="tuned").plan_with_reason("How long ago was 1900?")
    assert why == "" and [s["tool"] for s in steps] == ["current_date", "calculator"]
    assert steps[1]["args"] == {"expression": "$step1.year - 1900"}

    for bad, reason in (
        ('{"steps": [{"tool": "web_search", "args": {"q": "x"}}]}', "unknown tool"),
        ('{"steps": [{"tool": "calculator", "args": {}}]}', "bad arguments"),
        ("no plan here", "not an object"),
        ('{"steps": [{"tool": "calculator", "args": {"expression": "1 +', "not JSON"),
    ):
        steps, why = LLMPlanner(_fake(bad), REGISTRY, mode="tuned").plan_with_reason("x")
        assert steps is None and reason in why


def test_tuned_mode_bounds_the_number_of_steps():
    many = json.dumps({"steps": [{"tool": "list_sources", "args": {}}] * 6})
    steps, why = LLMPlanner(_fake(many), REGISTRY, mode="tuned", max_steps=5).plan_with_reason("x")
    assert steps is None and "6 steps" in why


def test_tuned_mode_plans_each_clause_and_renumbers_its_step_references():
    ago = {
        "steps": [
            {"tool": "current_date", "args": {}},
            {"tool": "calculator", "args": {"expression": "$step1.year - 1887"}},
        ]
    }
    who = {"steps": [{"tool": "cited_answer", "args": {"question": "Who is Irene Adler?"}}]}
    model = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(who)), AIMessage(json.dumps(ago))]))
    planner = LLMPlanner(model, REGISTRY, mode="tuned")
    steps, why = planner.plan_with_reason("Who is Irene Adler? How many years ago was 1887?")
    assert why == "" and [s["tool"] for s in steps] == ["cited_answer", "current_date", "calculator"]
    assert steps[2]["args"] == {"expression": "$step2.year - 1887"}  # the second clause's own first step

    refused = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(who)), AIMessage("no plan")]))
    planner = LLMPlanner(refused, REGISTRY, mode="tuned")
    steps, why = planner.plan_with_reason("Who is Adler? And list sources.")
    assert steps is None and "not an object" in why  # one clause without a plan: no plan at all


def test_tuned_mode_takes_a_misspelled_source_name_from_the_request():
    misspelled = {"steps": [{"tool": "summarize_source", "args": {"source": "ratrace.pdf"}}]}
    steps, why = LLMPlanner(_fake(json.dumps(misspelled)), REGISTRY, mode="tuned").plan_with_reason(
        "summarise raft.pdf"
    )
    assert why == "" and steps == [{"tool": "summarize_source", "args": {"source": "raft.pdf"}}]

    as_written = {"steps": [{"tool": "summarize_source", "args": {"source": "Lua Manual"}}]}
    steps, _ = LLMPlanner(_fake(json.dumps(as_written)), REGISTRY, mode="tuned").plan_with_reason(
        "Give me a summary of the lua manual"
    )
    assert steps[0]["args"]["source"] == "lua manual"  # in the request in another case: as the user wrote it

    earlier = {"steps": [{"tool": "summarize_source", "args": {"source": "notes.txt"}}]}
    steps, _ = LLMPlanner(_fake(json.dumps(earlier)), REGISTRY, mode="tuned").plan_with_reason(
        "Summarize it", ["What is in notes.txt?"]
    )
    assert steps[0]["args"]["source"] == "notes.txt"  # named in an earlier request: kept

    for written, request, meant in (
        (" Meeting_notes.txt", "Please summarize meeting_notes.txt.", "meeting_notes.txt"),
        ("notes.txt", "Please summarize meeting_notes.txt.", "meeting_notes.txt"),
        ("meeting_notes", "Please summarize meeting_notes.txt.", "meeting_notes.txt"),
        ("the document meeting_notes.txt", "Delete the document meeting_notes.txt.", "meeting_notes.txt"),
    ):
        plan = {"steps": [{"tool": "remove_source", "args": {"source": written}}]}
        steps, _ = LLMPlanner(_fake(json.dumps(plan)), REGISTRY, mode="tuned").plan_with_reason(request)
        assert steps[0]["args"]["source"] == meant


# -- training and routing at toy size ----------------------------------------------------------------------


def _texts() -> list[str]:
    items, _ = plan_data.split_items(60, 0)
    brief = tool_brief(REGISTRY)
    return [m["content"] for i in items for m in i.record(brief)["messages"]] + [i.plan_json() for i in items]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    return tiny_mistral(tmp_path_factory.mktemp("planner") / "base", _texts(), seed=0)


def test_one_command_trains_a_marked_planner_adapter_that_the_planner_uses(base_dir, tmp_path):
    from typer.testing import CliRunner

    from citegraph.agents.planner import is_plan_adapter
    from citegraph.cli import app
    from citegraph.models.lora.adapters import adapter_task
    from citegraph.models.registry import load_chat_model

    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "lora-planner",
            "--base",
            str(base_dir),
            "--out",
            str(run),
            "--examples",
            "40",
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--max-length",
            "512",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3
    rows = [json.loads(line) for line in (run / "plan_train.jsonl").read_text().splitlines()]
    kinds = [row["meta"]["kind"] for row in rows]
    assert len(kinds) - kinds.count("clause") == 40 and "clause" in kinds  # requests, then their clauses
    marker = json.loads((run / "planner" / "citegraph_task.json").read_text())
    assert marker["task"] == "plan" and marker["tools"] == tool_brief(REGISTRY)

    model = load_chat_model(f"lora:{base_dir}+{run / 'planner'}")
    assert adapter_task(model) == "plan" and is_plan_adapter(model)
    planner = LLMPlanner(model, REGISTRY, max_plan_tokens=12)
    assert planner.resolved_mode() == "tuned"
    # A random toy model writes no valid plan: the planner says why instead of passing junk on.
    steps, why = planner.plan_with_reason("What is 2 + 2?")
    assert steps is None or all(s["tool"] in REGISTRY for s in steps)
    assert (steps is None) == bool(why)
    # The same base with the adapter off is no plan adapter: auto mode falls back to the JSON prompt.
    off = load_chat_model(f"lora:{base_dir}+{run / 'planner'}@base")
    assert not is_plan_adapter(off) and LLMPlanner(off, REGISTRY).resolved_mode() == "json"


def test_plan_data_cli_writes_both_splits(tmp_path):
    from typer.testing import CliRunner

    from citegraph.cli import app

    result = CliRunner().invoke(
        app,
        [
            "train",
            "lora-plan-data",
            "--out",
            str(tmp_path / "train.jsonl"),
            "--held-out-out",
            str(tmp_path / "held.jsonl"),
            "--examples",
            "50",
            "--held-out",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "held.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and {"id", "request", "history", "expected", "kind", "plan"} <= set(rows[0])
    assert all(row["expected"] == [s["tool"] for s in row["plan"]["steps"]] for row in rows)
