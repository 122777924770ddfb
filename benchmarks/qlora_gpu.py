"""QLoRA (4-bit NF4 base) vs LoRA on a bf16 base, on one GPU, on a Mistral-shaped model; and generation
speed on that GPU vs its CPU. Run where a GPU is (the project's GPU extra: bitsandbytes):

    python benchmarks/qlora_gpu.py --json benchmarks/results/qlora_gpu.json

A Mistral model of the given shape (default ~1.5 B parameters: 24 layers, width 2048, 16 heads, 4 KV
heads, MLP 7168, vocabulary 32000) with random weights is written once as safetensors: memory and speed
depend on the shape, not on the values, and nothing is downloaded. It is then loaded twice, as
``citegraph/models/lora/loading.py`` loads a base: in bf16, and in 4-bit NF4 with double quantization and
bf16 compute (the same ``BitsAndBytesConfig`` as ``nf4_config``; this script imports only torch,
transformers, peft and bitsandbytes so that it runs on a bare GPU machine). For each: peak GPU memory of
the load, then LoRA training (r=16, alpha=32, q/k/v/o, AdamW 2e-4) on random tokens, batch x length as
given: the median step time and the peak memory while training. Generation: greedy tokens/s at batch 1 of
the Mistral-shaped model and of a SmolLM2-135M-shaped one, bf16 on the GPU vs fp32 on the machine's CPU
cores, same prompt and token count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def mistral(
    directory: Path, layers: int, hidden: int, heads: int, kv_heads: int, mlp: int, vocab: int
) -> Path:
    """A random Mistral of this shape saved (bf16) to ``directory``."""
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(directory))
    del model
    torch.cuda.empty_cache()
    return directory


def gib(n: int) -> float:
    return round(n / 2**30, 3)


def load(directory: Path, four_bit: bool) -> tuple[Any, dict[str, Any]]:
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16, "device_map": {"": 0}}
    if four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(directory), **kwargs)
    torch.cuda.synchronize()
    return model, {
        "load_s": round(time.perf_counter() - started, 2),
        "weights_gib": gib(torch.cuda.memory_allocated() - before),
        "peak_load_gib": gib(torch.cuda.max_memory_allocated() - before),
    }


def train_steps(
    model: Any, steps: int, batch: int, length: int, vocab: int, four_bit: bool
) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if four_bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(
        task_type="CAUSAL_LM", r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    model = get_peft_model(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-4)
    generator = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        ids = torch.randint(0, vocab, (batch, length), device="cuda", generator=generator)
        torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return {
        "trainable_params": sum(p.numel() for p in params),
        "median_step_s": round(statistics.median(times[2:] or times), 4),
        "tokens_per_s": round(batch * length / statistics.median(times[2:] or times), 1),
        "peak_train_gib": gib(torch.cuda.max_memory_allocated()),
        "last_loss": round(float(loss), 4),
    }


def generation_speed(model: Any, new_tokens: int, cpu_rounds: int) -> dict[str, Any]:
    """Greedy tokens/s of ``model`` (on the CPU) at batch 1 from a 400-token prompt: bf16 on the GPU (3
    rounds, median) and fp32 on the CPU (``cpu_rounds``)."""
    vocab = model.config.vocab_size
    prompt = torch.randint(0, vocab, (1, 400), generator=torch.Generator().manual_seed(0))
    result: dict[str, Any] = {"prompt_tokens": 400, "new_tokens": new_tokens}
    for device, dtype, rounds in (("cuda", torch.bfloat16, 3), ("cpu", torch.float32, cpu_rounds)):
        model = model.to(device=device, dtype=dtype).eval()
        ids = prompt.to(device)
        seconds = []
        for _ in range(rounds):
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0
                )
            if device == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
        assert out.shape[1] == 400 + new_tokens
        result[device] = {
            "tokens_per_s": round(new_tokens / statistics.median(seconds), 2),
            "threads": torch.get_num_threads(),
        }
    result["gpu_over_cpu"] = round(result["cuda"]["tokens_per_s"] / result["cpu"]["tokens_per_s"], 2)
    return result


def smollm2_shaped() -> Any:
    """A random Llama of SmolLM2-135M's shape (the bundled model's), on the CPU."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--mlp", type=int, default=7168)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import bitsandbytes
    import peft
    import transformers

    result: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "bitsandbytes": bitsandbytes.__version__,
        },
        "shape": {k: getattr(args, k) for k in ("layers", "hidden", "heads", "kv_heads", "mlp", "vocab")},
        "train": {"steps": args.steps, "batch": args.batch, "length": args.length},
    }
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        directory = mistral(
            Path(scratch) / "mistral",
            args.layers,
            args.hidden,
            args.heads,
            args.kv_heads,
            args.mlp,
            args.vocab,
        )
        result["write_s"] = round(time.perf_counter() - started, 1)
        for name, four_bit in (("bf16", False), ("qlora_nf4", True)):
            model, loaded = load(directory, four_bit)
            result["params"] = (
                sum(p.numel() for p in model.parameters()) if not four_bit else result["params"]
            )
            result[name] = {
                **loaded,
                **train_steps(model, args.steps, args.batch, args.length, args.vocab, four_bit),
            }
            print(name, result[name], flush=True)
            del model
            torch.cuda.empty_cache()
        from transformers import AutoModelForCausalLM

        big = AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.bfloat16)
        result["generation_mistral_shaped"] = generation_speed(big, args.new_tokens // 4, cpu_rounds=1)
        print("generation, Mistral-shaped", result["generation_mistral_shaped"], flush=True)
        del big
    for key in ("weights_gib", "peak_load_gib", "peak_train_gib", "median_step_s"):
        result.setdefault("qlora_over_bf16", {})[key] = round(
            result["qlora_nf4"][key] / result["bf16"][key], 3
        )
    result["generation_smollm2_shaped"] = generation_speed(smollm2_shaped(), args.new_tokens, cpu_rounds=3)
    print("generation, SmolLM2-shaped", result["generation_smollm2_shaped"], flush=True)
    result["machine"] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
