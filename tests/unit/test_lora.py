"""LoRA on tiny random Mistral models built here: data rendering, training, save/load, several adapters,
switching, merge, the ``lora:`` spec and its errors. One torch thread, fixed seeds, a few seconds in all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from citegraph.agents.prompts import Source, answer_messages  # noqa: E402
from citegraph.answers import ABSTAIN_TEXT, markers  # noqa: E402
from citegraph.models.lora import data as lora_data  # noqa: E402
from citegraph.models.lora.data import (  # noqa: E402
    IGNORE_INDEX,
    Paragraph,
    QAItem,
    messages_as_dicts,
    render_example,
    split_paragraphs,
    squad_items,
    write_jsonl,
)
from citegraph.models.lora.tiny import tiny_mistral  # noqa: E402

PARAGRAPHS = [
    Paragraph(
        "Sherlock",
        0,
        "Irene Adler was an opera singer. She lived in London. Holmes admired her wit.",
        (("Who was an opera singer?", ("Irene Adler",), 0),),
    ),
    Paragraph(
        "Watson",
        0,
        "John Watson was a doctor, trained in London, who served in Afghanistan in 1880.",
        (("Where did Watson serve?", ("Afghanistan",), 61), ("What was Watson?", ("a doctor",), 15)),
    ),
    Paragraph(
        "Baker",
        0,
        "Baker Street is in Marylebone. The museum opened in 1990. It has many visitors.",
        (("When did the museum open?", ("1990",), 52),),
    ),
    Paragraph(
        "Moriarty",
        0,
        "Professor Moriarty was a mathematician. He wrote a treatise on the binomial theorem.",
        (("What did Moriarty write about?", ("the binomial theorem",), 61),),
    ),
]


def _texts() -> list[str]:
    texts = [p.context for p in PARAGRAPHS] + [q for p in PARAGRAPHS for q, _, _ in p.questions]
    return texts + [
        str(m.content) for m in answer_messages("q", [Source(n=1, source="s", location="l", text="t")])
    ]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    return tiny_mistral(tmp_path_factory.mktemp("lora") / "base", _texts(), seed=0)


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory) -> Path:
    items = squad_items(PARAGRAPHS, seed=0, unanswerable_share=0.0)
    path = tmp_path_factory.mktemp("sft") / "sft.jsonl"
    write_jsonl((i.record() for i in items * 3), path)
    return path


def _load(base_dir: Path):
    from citegraph.models.lora.loading import load_base

    return load_base(str(base_dir))


def _random_adapter(base_dir: Path, out: Path, name: str, seed: int) -> Path:
    """An adapter with random (non-zero) LoRA weights saved under out/name."""
    from peft import get_peft_model

    from citegraph.models.lora.loading import write_base_fingerprint
    from citegraph.models.lora.train import LoraTrainConfig, lora_config

    base = _load(base_dir)
    model = get_peft_model(base.model, lora_config(LoraTrainConfig("", "", name, "", r=4)), adapter_name=name)
    torch.manual_seed(seed)
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "lora_" in param_name:
                param.normal_(0, 0.5)
    model.save_pretrained(str(out), selected_adapters=[name])
    write_base_fingerprint(out / name, model.get_base_model(), base.location)
    return out / name


def _ids(tokenizer, text: str = "Irene Adler was an opera singer in London."):
    return torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


# -- data ----------------------------------------------------------------------------------------------


def test_render_example_puts_loss_on_the_answer_only(base_dir):
    tokenizer = _load(base_dir).tokenizer
    messages = messages_as_dicts(answer_messages("Who?", [Source(n=1, source="a", location="b", text="X.")]))
    ids, labels = render_example(tokenizer, messages, "Irene Adler [1].")
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert ids[:n_prompt] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    assert tokenizer.decode(ids[n_prompt:]) == "Irene Adler [1].<|im_end|>\n"


def test_sft_messages_are_the_answer_prompt():
    item = squad_items(PARAGRAPHS, seed=1, unanswerable_share=0.0)[0]
    record = item.record()
    expected = answer_messages(item.question, list(item.sources))
    assert record["messages"] == messages_as_dicts(expected)
    assert [m["role"] for m in record["messages"]] == ["system", "user"]


def test_squad_targets_quote_and_cite_the_gold_source(judge):
    from citegraph.agents.verifier import Verifier

    items = squad_items(PARAGRAPHS, seed=3, unanswerable_share=0.0)
    assert len(items) == 5
    verifier = Verifier(judge)
    for item in items:
        (marker,) = set(markers(item.target))
        gold_source = item.sources[marker - 1]["text"]
        assert any(g in gold_source for g in item.golds)
        assert any(g in item.target for g in item.golds)
        assert verifier.verify(item.target, {s["n"]: s["text"] for s in item.sources}).verified


def test_unanswerable_items_hide_the_gold_paragraph_and_abstain():
    items = squad_items(PARAGRAPHS, seed=0, unanswerable_share=1.0)
    for item in items:
        assert item.target == ABSTAIN_TEXT and not item.answerable
        origin = next(p for p in PARAGRAPHS if any(q == item.question for q, _, _ in p.questions))
        assert all(s["text"] not in origin.context for s in item.sources)


def test_split_is_deterministic_and_disjoint():
    many = [Paragraph("t", i, f"Sentence number {i}.", ()) for i in range(40)]
    train, held = split_paragraphs(many, held_out=0.25, seed=7)
    assert (train, held) == split_paragraphs(many, held_out=0.25, seed=7)
    assert len(held) == 10 and not {p.index for p in train} & {p.index for p in held}
    assert split_paragraphs(many, held_out=0.25, seed=8)[1] != held


def test_answer_clause_keeps_brackets_whole_and_cites_before_the_full_stop():
    sentence = "The rate (22,392 km2 or 8,646 sq mi) was 18% higher, said the report, in 2005."
    clause = lora_data.answer_clause(sentence, sentence.index("18%"), min_words=4)
    assert clause == "The rate (22,392 km2 or 8,646 sq mi) was 18% higher."
    assert lora_data.cited(clause, 2) == "The rate (22,392 km2 or 8,646 sq mi) was 18% higher [2]."
    assert lora_data.cited('He said "no."', 1) == 'He said "no [1]."'


def test_read_jsonl_rejects_malformed_records(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": []}) + "\n")
    with pytest.raises(ValueError, match="needs 'messages'"):
        lora_data.read_jsonl(path)
    with pytest.raises(FileNotFoundError):
        lora_data.read_jsonl(tmp_path / "missing.jsonl")


def test_corpus_item_renumbers_the_extractive_answer_to_the_shown_chunks(embedder, judge):
    from types import SimpleNamespace

    from citegraph.agents.verifier import Verifier
    from citegraph.retrieval.store import Hit

    texts = ["Baker Street is in Marylebone, London.", "Irene Adler was an American opera singer."]
    hits = [
        Hit(f"c{i}", t, f"s{i}", f"doc{i}.txt", f"doc{i}", 0, len(t), None, 1.0) for i, t in enumerate(texts)
    ]

    class Store:  # what the answer step needs of a store
        def __init__(self) -> None:
            self.embedder = embedder

        def source(self, source_id: str) -> None:
            return None

        def bm25_document_frequency(self, terms: list[str]) -> dict[str, int]:
            return {}

        def __len__(self) -> int:
            return len(texts)

    store = Store()
    pipeline = SimpleNamespace(store=store, run=lambda q, k=None: SimpleNamespace(selected=hits))
    item = lora_data.corpus_item("Who was Irene Adler?", pipeline, Verifier(judge))
    assert item is not None and [s["n"] for s in item.sources] == [1, 2]
    assert item.target.startswith("Irene Adler was an American opera singer [2]")
    assert set(markers(item.target)) <= {1, 2}
    assert Verifier(judge).verify(item.target, {s["n"]: s["text"] for s in item.sources}).verified


# -- training ------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_saves_a_loadable_adapter(base_dir, sft_file, tmp_path):
    from citegraph.models.lora.adapters import SharedBase
    from citegraph.models.lora.train import LoraTrainConfig, train_lora

    cfg = LoraTrainConfig(
        base=str(base_dir),
        data=str(sft_file),
        adapter="answer",
        out=str(tmp_path / "run"),
        r=8,
        max_steps=30,
        batch_size=4,
        lr=3e-3,
        warmup_ratio=0.1,
        max_length=1024,
        eval_fraction=0.2,
        progress=False,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    summary = train_lora(cfg)
    losses = [
        json.loads(line)["loss"] for line in (tmp_path / "run" / "train_log.jsonl").open() if '"loss"' in line
    ]
    assert summary["steps"] == 30 and len(losses) == 30
    assert sum(losses[-5:]) < 0.93 * sum(losses[:5])  # ~6.0 -> ~5.3 on this random base
    assert 0 < summary["trainable_share"] < 0.5
    adapter = tmp_path / "run" / "answer"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "citegraph_base.json").is_file()

    loaded = _load(base_dir)
    ids = _ids(loaded.tokenizer)
    before = _logits(loaded.model, ids)
    shared = SharedBase(loaded.location, loaded.model, loaded.tokenizer)
    assert shared.add_adapter(adapter) == "answer"
    with shared.generating_with("answer"):
        assert not torch.allclose(_logits(shared.model, ids), before)
    with shared.generating_with("base"):
        assert torch.allclose(_logits(shared.model, ids), before)


def test_resume_continues_exactly(base_dir, sft_file, tmp_path):
    from safetensors.torch import load_file

    from citegraph.models.lora.train import LoraTrainConfig, train_lora

    common = dict(
        base=str(base_dir),
        data=str(sft_file),
        adapter="answer",
        r=4,
        max_steps=6,
        batch_size=2,
        lr=3e-3,
        max_length=1024,
        eval_fraction=0.0,
        dropout=0.1,
        progress=False,
    )
    train_lora(LoraTrainConfig(out=str(tmp_path / "straight"), **common))
    first = train_lora(LoraTrainConfig(out=str(tmp_path / "split"), stop_after=3, **common))
    assert first["steps"] == 3
    second = train_lora(LoraTrainConfig(out=str(tmp_path / "split"), resume=True, **common))
    assert second["steps"] == 6
    a = load_file(tmp_path / "straight" / "answer" / "adapter_model.safetensors")
    b = load_file(tmp_path / "split" / "answer" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


# -- several adapters, switching, merge ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_adapters(base_dir, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("adapters")
    return _random_adapter(base_dir, out, "answer", 1), _random_adapter(base_dir, out, "planner", 2)


def _only(base_dir: Path, adapter: Path):
    from peft import PeftModel

    return PeftModel.from_pretrained(_load(base_dir).model, str(adapter), adapter_name=adapter.name).eval()


def test_save_load_round_trip_gives_identical_logits(base_dir, tmp_path):
    from peft import get_peft_model

    from citegraph.models.lora.train import LoraTrainConfig, lora_config

    base = _load(base_dir)
    model = get_peft_model(base.model, lora_config(LoraTrainConfig("", "", "x", "", r=4)), adapter_name="x")
    torch.manual_seed(5)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.eval()
    ids = _ids(base.tokenizer)
    expected = _logits(model, ids)
    model.save_pretrained(str(tmp_path), selected_adapters=["x"])
    assert torch.equal(_logits(_only(base_dir, tmp_path / "x"), ids), expected)


def test_two_adapters_differ_and_switching_matches_each_alone(base_dir, two_adapters):
    from citegraph.models.lora.adapters import SharedBase

    answer, planner = two_adapters
    loaded = _load(base_dir)
    ids = _ids(loaded.tokenizer)
    plain = _logits(loaded.model, ids)
    alone = {a.name: _logits(_only(base_dir, a), ids) for a in two_adapters}
    assert not torch.allclose(alone["answer"], alone["planner"])

    shared = SharedBase(loaded.location, loaded.model, loaded.tokenizer)
    shared.add_adapter(answer)
    shared.add_adapter(planner)
    assert shared.add_adapter(answer) == "answer"  # loading it again is a no-op
    for name in ["answer", "planner", "answer", "base", "planner"]:
        with shared.generating_with(name):
            got = _logits(shared.model, ids)
        assert torch.allclose(got, plain if name == "base" else alone[name], atol=1e-5), name


def test_merged_model_equals_adapter_model(base_dir, two_adapters, tmp_path):
    from transformers import AutoModelForCausalLM

    from citegraph.models.lora.adapters import export_merged

    answer = two_adapters[0]
    export_merged(str(base_dir), answer, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged")).eval()
    ids = _ids(_load(base_dir).tokenizer)
    assert torch.allclose(_logits(merged, ids), _logits(_only(base_dir, answer), ids), atol=1e-4)
    assert not any("lora" in k for k in merged.state_dict())


# -- the lora: spec and the chat models it gives agents -----------------------------------------------


def test_lora_spec_gives_each_agent_its_adapter_on_one_base(base_dir, two_adapters):
    from citegraph.models.lora import load_lora_chat_model
    from citegraph.models.lora.adapters import AdapterChatModel

    answer, planner = two_adapters
    for_answer = load_lora_chat_model(f"{base_dir}+{answer},{planner}", max_new_tokens=6)
    for_planner = load_lora_chat_model(f"{base_dir}+{planner},{answer}", max_new_tokens=6)
    for_base = load_lora_chat_model(f"{base_dir}+{answer}@base", max_new_tokens=6)
    assert isinstance(for_answer, AdapterChatModel)
    assert (for_answer.adapter, for_planner.adapter, for_base.adapter) == ("answer", "planner", "base")
    assert for_answer.shared is for_planner.shared is for_base.shared  # one base in memory

    messages = answer_messages("Who was an opera singer?", [Source(n=1, source="a", location="b", text="X.")])
    replies = {m.adapter: m.invoke(messages).content for m in (for_answer, for_planner, for_base)}
    again = {m.adapter: m.invoke(messages).content for m in (for_base, for_planner, for_answer)}
    assert replies == again  # switching back and forth gives each agent its own adapter every time
    assert len(set(replies.values())) == 3


def test_registry_resolves_lora_specs(base_dir, two_adapters):
    from citegraph.models.registry import load_chat_model

    model = load_chat_model(f"lora:{base_dir}+{two_adapters[1]}")
    assert model.adapter == "planner"


@pytest.mark.parametrize(
    "spec",
    ["smollm2", "smollm2+", "+a", "smollm2+a,b@c"],
    ids=["no-plus", "no-adapter", "no-base", "unknown"],
)
def test_malformed_lora_specs_are_rejected(spec):
    from citegraph.models.lora.adapters import parse_lora_spec

    with pytest.raises(ValueError, match="lora spec"):
        parse_lora_spec(spec)


# -- errors ----------------------------------------------------------------------------------------------


def test_missing_paths_raise_model_not_found(base_dir, tmp_path):
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.lora.adapters import load_lora_chat_model
    from citegraph.models.lora.loading import load_base

    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_base(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="adapter directory does not exist"):
        load_lora_chat_model(f"{base_dir}+{tmp_path / 'no_adapter'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no adapter_config\.json"):
        load_lora_chat_model(f"{base_dir}+{tmp_path / 'empty'}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_4bit_without_cuda_is_a_clear_error(base_dir):
    from citegraph.models.lora.loading import CudaRequiredError, load_base

    with pytest.raises(CudaRequiredError, match="needs a CUDA GPU"):
        load_base(str(base_dir), load_in_4bit=True)


def test_adapter_for_another_base_is_rejected(base_dir, two_adapters, tmp_path):
    from citegraph.models.lora.adapters import SharedBase
    from citegraph.models.lora.loading import AdapterMismatchError, load_base

    same_shape = tiny_mistral(tmp_path / "other_weights", _texts(), seed=1)
    wider = tiny_mistral(tmp_path / "wider", _texts(), seed=0, hidden_size=96)
    for other, reason in [(same_shape, "different weights"), (wider, "hidden_size")]:
        loaded = load_base(str(other))
        shared = SharedBase(loaded.location, loaded.model, loaded.tokenizer)
        with pytest.raises(AdapterMismatchError, match=reason):
            shared.add_adapter(two_adapters[0])


def test_same_base_in_bfloat16_still_matches(base_dir, two_adapters):
    from citegraph.models.lora.loading import check_adapter_matches, load_base

    check_adapter_matches(two_adapters[0], load_base(str(base_dir), dtype="bfloat16").model)


# -- CLI -------------------------------------------------------------------------------------------------


def test_cli_builds_data_and_trains(base_dir, tmp_path):
    from typer.testing import CliRunner

    from citegraph.cli import app

    squad = {
        "data": [
            {
                "title": p.title,
                "paragraphs": [
                    {
                        "context": p.context,
                        "qas": [
                            {"id": q, "question": q, "answers": [{"text": g[0], "answer_start": s}]}
                            for q, g, s in p.questions
                        ],
                    }
                ],
            }
            for p in PARAGRAPHS * 2
        ]
    }
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "train",
            "lora-data",
            "--squad",
            str(tmp_path / "squad.json"),
            "--out",
            str(tmp_path / "sft.jsonl"),
            "--held-out",
            "0.25",
        ],
    )
    assert made.exit_code == 0, made.output
    counts = json.loads(made.stdout.strip().splitlines()[-1])
    assert (
        0
        < counts["squad_train"]
        == counts["written"]
        == len((tmp_path / "sft.jsonl").read_text().splitlines())
    )
    trained = runner.invoke(
        app,
        [
            "train",
            "lora",
            "--base",
            str(base_dir),
            "--data",
            str(tmp_path / "sft.jsonl"),
            "--adapter",
            "answer",
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--max-length",
            "1024",
            "--quiet",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "answer" / "adapter_config.json").is_file()
    missing = runner.invoke(
        app,
        [
            "train",
            "lora",
            "--base",
            str(tmp_path / "nope"),
            "--data",
            str(tmp_path / "sft.jsonl"),
            "--adapter",
            "a",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_qa_item_record_round_trips_through_jsonl(tmp_path):
    item = QAItem("Q?", (Source(n=1, source="a", location="b", text="T."),), ("T",), "T [1].")
    write_jsonl([item.record()], tmp_path / "x.jsonl")
    (record,) = lora_data.read_jsonl(tmp_path / "x.jsonl")
    assert record["answer"] == "T [1]." and record["meta"]["golds"] == ["T"]
