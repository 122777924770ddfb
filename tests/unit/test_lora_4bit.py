"""QLoRA (4-bit NF4 base) on a tiny random Mistral: runs only where CUDA is present, skipped elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="4-bit NF4 (bitsandbytes) needs CUDA")

from citegraph.models.lora.data import write_jsonl  # noqa: E402
from citegraph.models.lora.tiny import tiny_mistral  # noqa: E402

RECORDS = [
    {
        "messages": [
            {"role": "system", "content": "Answer with a citation."},
            {"role": "user", "content": f"Sources:\n[1] a (b)\nFact {i} is true.\n\nQuestion: fact {i}?"},
        ],
        "answer": f"Fact {i} is true [1].",
    }
    for i in range(16)
]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    texts = [m["content"] for r in RECORDS for m in r["messages"]] + [r["answer"] for r in RECORDS]
    return tiny_mistral(
        tmp_path_factory.mktemp("qlora") / "base", texts, hidden_size=128, heads=4, kv_heads=2
    )


def test_4bit_base_is_quantized_nf4_with_double_quant(base_dir):
    from citegraph.models.lora.loading import load_base

    loaded = load_base(str(base_dir), load_in_4bit=True)
    config = loaded.model.config.quantization_config
    assert loaded.quantized_4bit and config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert any("Linear4bit" in type(m).__name__ for m in loaded.model.modules())


def test_qlora_training_lowers_the_loss_and_the_adapter_loads_on_the_4bit_base(base_dir, tmp_path):
    from citegraph.models.lora.adapters import SharedBase
    from citegraph.models.lora.loading import load_base
    from citegraph.models.lora.train import LoraTrainConfig, train_lora

    write_jsonl(RECORDS, tmp_path / "sft.jsonl")
    summary = train_lora(
        LoraTrainConfig(
            base=str(base_dir),
            data=str(tmp_path / "sft.jsonl"),
            adapter="answer",
            out=str(tmp_path / "run"),
            r=8,
            max_steps=30,
            batch_size=4,
            lr=3e-3,
            max_length=512,
            eval_fraction=0.0,
            load_in_4bit=True,
            dtype="bfloat16",
            gradient_checkpointing=True,
            progress=False,
        )
    )
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "train_log.jsonl").open() if '"loss"' in x]
    assert summary["steps"] == 30 and sum(losses[-5:]) < 0.93 * sum(losses[:5])
    loaded = load_base(str(base_dir), load_in_4bit=True)
    shared = SharedBase(loaded.location, loaded.model, loaded.tokenizer)
    assert shared.add_adapter(tmp_path / "run" / "answer") == "answer"
    lora_weights = [p for n, p in shared.model.named_parameters() if "lora_A" in n]
    assert lora_weights and all(p.dtype == torch.float32 for p in lora_weights)  # adapters stay fp32
