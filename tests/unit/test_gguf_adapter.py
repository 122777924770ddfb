"""PEFT LoRA adapters as llama.cpp LoRA GGUFs (``gguf:<base>+<adapter>``): names, shapes, alpha and the
rotary row order of q and k, read back with llama.cpp's own ``gguf`` reader; tests/integration runs one in
llama.cpp against transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from citegraph.errors import ModelNotFoundError
from citegraph.models import llamacpp
from citegraph.models.llamacpp import LlamaCppServer, chat_model_for, model_name_for, split_adapter
from citegraph.models.lora.gguf_adapter import gguf_lora_for, rope_rows, write_gguf_lora

HEADS, KV_HEADS, HIDDEN = 4, 2, 64

gguf = pytest.importorskip("gguf")


def _base_gguf(path: Path, arch: str = "llama") -> Path:
    """A metadata-only base GGUF: what the converter reads of a base (its architecture and head counts)."""
    writer = gguf.GGUFWriter(path, arch)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_tensor("token_embd.weight", np.zeros((8, HIDDEN), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _adapter(tmp_path: Path, **config: object) -> Path:
    """A random PEFT LoRA adapter (r=4, alpha=8) on a tiny Mistral's q, k, v and o projections."""
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    base = MistralForCausalLM(
        MistralConfig(
            vocab_size=32,
            hidden_size=HIDDEN,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=HEADS,
            num_key_value_heads=KV_HEADS,
        )
    )
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], **config)
    model = get_peft_model(base, lora)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(0, 0.5)
    model.save_pretrained(str(tmp_path / "adapter"))
    return tmp_path / "adapter"


def _hf_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's row order from llama.cpp's: what transformers does when it loads a llama GGUF."""
    split = weight.reshape(heads, weight.shape[0] // heads // 2, 2, *weight.shape[1:])
    return split.swapaxes(2, 1).reshape(weight.shape)


def test_rope_rows_undoes_what_transformers_does_to_a_gguf_q_and_k() -> None:
    weight = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)
    for heads in (HEADS, KV_HEADS):
        assert np.array_equal(rope_rows(_hf_rows(weight, heads), heads), weight)
        assert not np.array_equal(rope_rows(weight, heads), weight)


def test_adapter_becomes_lora_gguf_with_llamacpp_names_shapes_alpha_and_row_order(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    adapter = _adapter(tmp_path)
    out = write_gguf_lora(adapter, _base_gguf(tmp_path / "base.gguf"), tmp_path / "adapter.gguf")
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == 8.0
    tensors = {t.name: np.array(t.data).reshape(list(reversed(t.shape.tolist()))) for t in reader.tensors}
    assert len(tensors) == 2 * 4 * 2  # A and B of four projections in two layers
    peft = load_file(str(adapter / "adapter_model.safetensors"))
    key = "base_model.model.model.layers.1.self_attn.{}.lora_{}.weight"
    for module, name, heads in (
        ("q_proj", "attn_q", HEADS),
        ("k_proj", "attn_k", KV_HEADS),
        ("v_proj", "attn_v", 0),
    ):
        a, b = peft[key.format(module, "A")].numpy(), peft[key.format(module, "B")].numpy()
        assert np.array_equal(tensors[f"blk.1.{name}.weight.lora_a"], a)  # r x in, as PEFT stores it
        expected_b = rope_rows(b, heads) if heads else b  # q and k rows in llama.cpp's rotary order
        assert np.array_equal(tensors[f"blk.1.{name}.weight.lora_b"], expected_b)


def test_conversion_is_cached_and_a_lora_gguf_is_taken_as_is(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    adapter, base = _adapter(tmp_path), _base_gguf(tmp_path / "base.gguf")
    first = gguf_lora_for(adapter, base)
    assert first.parent == tmp_path / "cache" / "citegraph" / "gguf-lora" and first.name.startswith(
        "adapter-"
    )
    mtime = first.stat().st_mtime_ns
    assert gguf_lora_for(adapter, base) == first and first.stat().st_mtime_ns == mtime
    assert gguf_lora_for(first, base) == first


def test_what_llamacpp_cannot_apply_is_one_clear_error(tmp_path: Path) -> None:
    base = _base_gguf(tmp_path / "base.gguf")
    with pytest.raises(ModelNotFoundError, match="not a PEFT adapter folder"):
        write_gguf_lora(tmp_path, base, tmp_path / "x.gguf")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        gguf_lora_for(tmp_path / "missing", base)
    adapter = _adapter(tmp_path)
    with pytest.raises(ModelNotFoundError, match="'qwen3' GGUF"):
        write_gguf_lora(adapter, _base_gguf(tmp_path / "qwen.gguf", "qwen3"), tmp_path / "x.gguf")
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ModelNotFoundError, match="DoRA"):
        write_gguf_lora(adapter, base, tmp_path / "x.gguf")
    assert not list(tmp_path.glob("x.gguf*"))  # nothing half-written is left


def test_gguf_spec_names_base_and_adapter() -> None:
    assert split_adapter("smollm2") == ("smollm2", None)
    assert split_adapter(" smollm2 + runs/planner ") == ("smollm2", Path("runs/planner"))
    for bad in ("smollm2+", "+runs/planner"):
        with pytest.raises(ValueError, match="does not resolve"):
            split_adapter(bad)
    base = Path("/m/SmolLM2.gguf")
    assert model_name_for("smollm2", base, Path("runs/planner")) == "smollm2+planner"
    assert model_name_for("/m/SmolLM2.gguf", base, Path("x/plan-lora.gguf")) == "SmolLM2+plan-lora"


def test_a_served_plan_adapter_makes_the_planner_use_its_prompt(tmp_path: Path, monkeypatch) -> None:
    from citegraph.agents.planner import LLMPlanner
    from citegraph.models.lora.adapters import adapter_task, write_task_marker
    from citegraph.tools import REGISTRY

    class FakeServer:
        listening_address = "http://127.0.0.1:41002"

    monkeypatch.setattr(llamacpp, "serve", lambda *args, **kwargs: FakeServer())
    adapter = tmp_path / "planner"
    adapter.mkdir()
    plain = LlamaCppServer(Path("m.gguf"), "m").start()
    assert adapter_task(chat_model_for(plain)) is None
    plain.stop()
    served = LlamaCppServer(Path("m.gguf"), "m+planner", adapter=adapter).start()
    model = chat_model_for(served)
    assert adapter_task(model) is None  # no task marker yet
    write_task_marker(adapter, "plan")
    assert adapter_task(model) == "plan" and LLMPlanner(model, REGISTRY).resolved_mode() == "tuned"
    served.stop()
