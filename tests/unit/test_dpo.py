"""Preference pairs from the verifier's verdicts and DPO (trl) on a tiny random Mistral built here: which
drafts are accepted or rejected, how they pair, bad pair files, and a toy run that trains and saves an
adapter that loads. One torch thread, fixed seeds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from langchain_core.messages import AIMessage  # noqa: E402

from citegraph.agents.prompts import Source  # noqa: E402
from citegraph.answers import ABSTAIN_TEXT  # noqa: E402
from citegraph.models.lora.data import QAItem, write_jsonl  # noqa: E402
from citegraph.models.lora.dpo import (  # noqa: E402
    DEVELOPMENT,
    DpoTrainConfig,
    draft_pairs,
    drafting_items,
    read_pairs,
    train_dpo,
    verdict,
)

ANSWERABLE = QAItem(
    "Who was an opera singer?",
    (Source(n=1, source="a.txt", location="line 1", text="Irene Adler was an opera singer."),),
    ("Irene Adler",),
    "Irene Adler was an opera singer [1].",
)
UNANSWERABLE = QAItem(
    "When did the museum open?",
    (Source(n=1, source="a.txt", location="line 1", text="Irene Adler was an opera singer."),),
    (),
    ABSTAIN_TEXT,
)


@dataclass
class Check:
    verified: bool


class WordVerifier:
    """Stands in for the Verifier: a draft is supported when every word of it is in a cited source."""

    def verify(self, answer: str, sources: dict[int, str]) -> Check:
        words = {w.strip(".,").lower() for text in sources.values() for w in text.split()}
        said = {w.strip(".,").lower() for w in answer.replace("[1]", "").split()} - {""}
        return Check(said <= words)


class ScriptedModel:
    """A chat model that replies with the next scripted draft (and records the temperatures asked for)."""

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.temperatures = list(replies), []

    def invoke(self, messages: Any, temperature: float = 0.0, seed: int | None = None) -> AIMessage:
        self.temperatures.append(temperature)
        return AIMessage(self.replies.pop(0))


def test_verdicts_follow_the_verifier_and_the_question_kind() -> None:
    verifier = WordVerifier()
    assert verdict("Irene Adler was an opera singer [1].", ANSWERABLE, verifier) == (True, "verified")
    assert verdict("Holmes was an opera singer [1].", ANSWERABLE, verifier)[0] is False
    assert verdict(ABSTAIN_TEXT, ANSWERABLE, verifier) == (False, "abstained although a source answers")
    assert verdict(ABSTAIN_TEXT, UNANSWERABLE, verifier) == (True, "abstained")
    assert verdict("Irene Adler was an opera singer [1].", UNANSWERABLE, verifier)[0] is False


def test_pairs_come_only_from_questions_with_both_kinds_of_drafts() -> None:
    model = ScriptedModel(
        [
            "Irene Adler was an opera singer [1].",  # answerable: accepted (greedy)
            "Holmes was an opera singer [1].",  # rejected
            "Irene  Adler was an opera singer [1].",  # the greedy draft again (spacing): not a new draft
            ABSTAIN_TEXT,  # unanswerable: accepted, and so are the other two: no pair
            ABSTAIN_TEXT,
            ABSTAIN_TEXT,
        ]
    )
    records, counts = draft_pairs(model, [ANSWERABLE, UNANSWERABLE], WordVerifier(), samples=3)
    assert model.temperatures == [0.0, 0.9, 0.9] * 2
    assert counts["pairs"] == 1 and counts["mixed_questions"] == 1 and counts["drafts"] == 3
    assert counts["verdicts"] == {
        "verified": 1,
        "a sentence is not supported by its source": 1,
        "abstained": 1,
    }
    [pair] = records
    assert pair["chosen"] == [{"role": "assistant", "content": "Irene Adler was an opera singer [1]."}]
    assert pair["rejected"] == [{"role": "assistant", "content": "Holmes was an opera singer [1]."}]
    assert pair["prompt"][0]["role"] == "system" and "opera singer" in pair["prompt"][1]["content"]


def test_a_rejected_greedy_draft_gets_more_samples_until_one_is_accepted() -> None:
    wrong, right = "Holmes was an opera singer [1].", "Irene Adler was an opera singer [1]."
    model = ScriptedModel([wrong, wrong, "Watson was an opera singer [1].", right, right])
    records, counts = draft_pairs(model, [ANSWERABLE], WordVerifier(), samples=2, rescue=5)
    assert model.temperatures == [0.0, 0.9, 0.9, 0.9]  # stopped at the first accepted sample
    assert counts["drafts"] == 3 and counts["greedy_rejected_pairs"] == 1
    assert records[0]["rejected"][0]["content"] == wrong and records[0]["meta"]["greedy_rejected"]
    assert records[0]["chosen"][0]["content"] == right
    # An accepted greedy draft needs no rescue: only the usual samples are drawn.
    model = ScriptedModel([right, wrong, wrong])
    draft_pairs(model, [ANSWERABLE], WordVerifier(), samples=2, rescue=5)
    assert model.temperatures == [0.0, 0.9]


def test_bad_pair_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_pairs(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no preference pairs"):
        read_pairs(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"prompt": [], "chosen": []}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_pairs(tmp_path / "bad.jsonl")


def test_dpo_trains_a_tiny_adapter_that_prefers_the_accepted_draft(tmp_path: Path, one_torch_thread) -> None:
    pytest.importorskip("trl")
    from peft import LoraConfig, get_peft_model

    from citegraph.models.lora.loading import load_base, write_base_fingerprint
    from citegraph.models.lora.tiny import tiny_mistral

    texts = [ANSWERABLE.sources[0]["text"], ANSWERABLE.question, "Holmes was a detective.", ABSTAIN_TEXT]
    base_dir = tiny_mistral(tmp_path / "base", texts * 4, seed=0)
    base = load_base(str(base_dir))
    torch.manual_seed(0)
    sft = get_peft_model(base.model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    sft.save_pretrained(str(tmp_path / "sft"))
    write_base_fingerprint(tmp_path / "sft", sft.get_base_model(), base.location)
    model = ScriptedModel(["Irene Adler was an opera singer [1].", "Holmes was an opera singer [1]."] * 4)
    records, _ = draft_pairs(model, [ANSWERABLE] * 4, WordVerifier(), samples=2)
    write_jsonl(records, tmp_path / "pairs.jsonl")

    cfg = DpoTrainConfig(
        adapter=str(tmp_path / "sft"),
        pairs=str(tmp_path / "pairs.jsonl"),
        out=str(tmp_path / "run"),
        base=str(base_dir),
        lr=5e-3,
        epochs=3,
        batch_size=2,
        max_length=1024,
        progress=False,
    )
    summary = train_dpo(cfg)
    assert summary["pairs"] == 4 and summary["steps"] == 6
    first, last = summary["first"], summary["last"]
    assert last["rewards/margins"] > first["rewards/margins"]  # the accepted draft gains on the rejected one
    adapter = tmp_path / "run" / "answer-dpo"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "citegraph_base.json").is_file()
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["r"] == 4 and sorted(saved["target_modules"]) == ["q_proj", "v_proj"]
    assert (tmp_path / "run" / "dpo_summary.json").is_file() and (
        tmp_path / "run" / "dpo_log.jsonl"
    ).is_file()


def test_drafting_never_takes_the_development_questions() -> None:
    draftable = list(range(1000))
    assert drafting_items(draftable, 450) == draftable[:450]  # the first run's questions, unchanged
    more = drafting_items(draftable, 700)
    assert len(more) == 700 and not set(more) & set(draftable[DEVELOPMENT])
    assert more[450] == DEVELOPMENT.stop  # drafting goes on after the development questions
