"""LoRA / QLoRA supervised fine-tuning of one named adapter on SFT JSON lines (see ``data.py``).

One loop for a CPU, one GPU or several (``accelerate launch`` / ``torchrun``: ``Accelerator`` shards the
batches and wraps the model in DDP). The adapter's weights stay fp32 whatever the base dtype (PEFT's
``autocast_adapter_dtype``), so fp16/bf16 bases train without the LoRA updates underflowing. Cosine schedule
with warmup, gradient clipping, held-out eval loss, a JSON-lines log, and an exact resume from the last
checkpoint (adapter, optimizer, scheduler, step, data order).

Layout of ``out``: ``<adapter>/`` (the adapter, ``save_pretrained``), ``checkpoint/`` (resume state),
``train_log.jsonl`` (one line per logged step and eval), ``train_summary.json``.
"""

from __future__ import annotations

import json
import math
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from citegraph.models.lora.data import IGNORE_INDEX, read_jsonl, render_example
from citegraph.models.lora.loading import load_base, write_base_fingerprint

ATTENTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
MLP_MODULES = ["gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraTrainConfig:
    """Everything one adapter training run needs (the CLI's options)."""

    base: str  # local dir, .gguf file or bundled alias
    data: str  # SFT JSON lines
    adapter: str  # adapter name (also its directory name under out)
    out: str
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(ATTENTION_MODULES))
    epochs: float = 1.0
    max_steps: int = 0  # >0: stop after this many optimizer steps (overrides epochs)
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 2e-4
    min_lr_ratio: float = 0.1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_length: int = 320  # longer examples are dropped (truncating would cut the answer)
    eval_fraction: float = 0.05
    eval_every: int = 0  # optimizer steps between evals; 0: only at the end
    log_every: int = 1
    checkpoint_every: int = 0  # optimizer steps between resume checkpoints; 0: only at the end
    gradient_checkpointing: bool = False
    dtype: str = "float32"  # base weights: float32, bfloat16 or float16
    load_in_4bit: bool = False  # QLoRA (CUDA only)
    seed: int = 0
    resume: bool = False
    stop_after: int = (
        0  # >0: save a checkpoint and stop after this many steps (time-boxed jobs); resume later
    )
    progress: bool = True


def lora_config(cfg: LoraTrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        bias="none",
    )


def trainable_share(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts (4-bit weights count as their unpacked size, as PEFT does)."""
    trainable, total = model.get_nb_trainable_parameters()
    return int(trainable), int(total)


def tokenize_records(
    records: list[dict[str, Any]], tokenizer: Any, max_length: int
) -> tuple[list[tuple[list[int], list[int]]], int]:
    """(examples, dropped): rendered examples that fit ``max_length`` and how many did not."""
    examples, dropped = [], 0
    for record in records:
        ids, labels = render_example(tokenizer, record["messages"], record["answer"])
        if len(ids) > max_length:
            dropped += 1
            continue
        examples.append((ids, labels))
    return examples, dropped


def collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels (IGNORE_INDEX on padding)."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def cosine_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine down to ``min_ratio`` at ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed * 1000 + epoch).shuffle(order)  # the same order again on resume
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _eval_loss(
    model: Any, examples: list[tuple[list[int], list[int]]], batch_size: int, pad: int, device: Any
) -> float:
    """Mean per-token loss on the answer tokens of ``examples``."""
    import torch

    if not examples:
        return float("nan")
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i : i + batch_size], pad)
            batch = {k: v.to(device) for k, v in batch.items()}
            n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
            total += float(model(**batch).loss) * n
            tokens += n
    model.train()
    return total / max(tokens, 1)


def train_lora(cfg: LoraTrainConfig) -> dict[str, Any]:
    """Train the adapter, save it under ``out/<adapter>``, return the summary (also in train_summary.json)."""
    import torch
    from accelerate import Accelerator
    from peft import get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    records = read_jsonl(Path(cfg.data))
    mixed = "bf16" if cfg.dtype == "bfloat16" and torch.cuda.is_available() else "no"
    mixed = "fp16" if cfg.dtype == "float16" else mixed
    # Created before the base is loaded: under accelerate/torchrun it selects this process's GPU, which is
    # where a 4-bit base must be placed.
    accelerator = Accelerator(mixed_precision=mixed)
    base = load_base(
        cfg.base,
        dtype=cfg.dtype,
        load_in_4bit=cfg.load_in_4bit,
        for_training=True,
        gradient_checkpointing=cfg.gradient_checkpointing,
    )
    model = get_peft_model(base.model, lora_config(cfg), adapter_name=cfg.adapter)
    trainable, total = trainable_share(model)

    examples, dropped = tokenize_records(records, base.tokenizer, cfg.max_length)
    if not examples:
        raise ValueError(f"no example of {cfg.data} fits in --max-length {cfg.max_length} tokens")
    rng = random.Random(cfg.seed)
    rng.shuffle(examples)
    n_eval = min(round(len(examples) * cfg.eval_fraction), len(examples) - 1)
    eval_set, train_set = examples[:n_eval], examples[n_eval:]

    batches_per_process = math.ceil(len(train_set) / cfg.batch_size / accelerator.num_processes)
    per_epoch = math.ceil(batches_per_process / cfg.grad_accum)
    total_steps = cfg.max_steps or max(math.ceil(per_epoch * cfg.epochs), 1)
    warmup = round(total_steps * cfg.warmup_ratio)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: cosine_factor(s, total_steps, warmup, cfg.min_lr_ratio)
    )

    step, checkpoint = 0, out / "checkpoint"
    if cfg.resume and (checkpoint / "state.pt").is_file():
        state = torch.load(checkpoint / "state.pt", weights_only=False)
        set_peft_model_state_dict(model, state["adapter"], adapter_name=cfg.adapter)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["rng"])  # LoRA dropout draws the same masks as an uninterrupted run
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    pad = base.tokenizer.pad_token_id
    log_path = out / "train_log.jsonl"
    log = log_path.open("a" if cfg.resume else "w", encoding="utf-8")

    def write_log(entry: dict[str, Any]) -> None:
        if accelerator.is_main_process:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    def save_checkpoint() -> None:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            checkpoint.mkdir(exist_ok=True)
            state = {
                "adapter": get_peft_model_state_dict(
                    accelerator.unwrap_model(model), adapter_name=cfg.adapter
                ),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "rng": torch.get_rng_state(),
            }
            torch.save(state, checkpoint / "state.pt.tmp")
            (checkpoint / "state.pt.tmp").replace(checkpoint / "state.pt")

    from tqdm import tqdm

    bar = tqdm(total=total_steps, initial=step, disable=not (cfg.progress and accelerator.is_main_process))
    started, tokens, last_loss = time.perf_counter(), 0, float("nan")
    # Each process takes every num_processes-th batch (accelerate launch / torchrun); a resume skips the
    # micro-batches already done (checkpoints are taken at optimizer steps), so the data order is the one
    # an uninterrupted run would have seen.
    rank, world = accelerator.process_index, accelerator.num_processes
    n_mine = max(len(_batches(len(train_set), cfg.batch_size, cfg.seed, 0)[rank::world]), 1)
    micro = step * cfg.grad_accum
    while step < total_steps:
        epoch, offset = divmod(micro, n_mine)
        batches = _batches(len(train_set), cfg.batch_size, cfg.seed, epoch)
        mine = batches[rank::world]
        for indices in mine[offset:]:
            batch = collate([train_set[i] for i in indices], pad)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            micro += 1
            sync = micro % cfg.grad_accum == 0
            with accelerator.no_sync(model) if not sync else nullcontext():
                loss = model(**batch).loss / cfg.grad_accum
                accelerator.backward(loss)
            tokens += int(batch["attention_mask"].sum())
            if not sync:
                continue
            if cfg.grad_clip:
                accelerator.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last_loss = float(loss.detach()) * cfg.grad_accum
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.4f}")
            if cfg.log_every and step % cfg.log_every == 0:
                elapsed = time.perf_counter() - started
                write_log(
                    {
                        "step": step,
                        "loss": last_loss,
                        "lr": scheduler.get_last_lr()[0],
                        "tokens_per_s": tokens / max(elapsed, 1e-9),
                        "elapsed_s": elapsed,
                    }
                )
            if cfg.eval_every and step % cfg.eval_every == 0 and step < total_steps:
                write_log(
                    {
                        "step": step,
                        "eval_loss": _eval_loss(model, eval_set, cfg.batch_size, pad, accelerator.device),
                    }
                )
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save_checkpoint()
            if step >= total_steps or step == cfg.stop_after:
                break
        if step == cfg.stop_after:
            break
    bar.close()
    train_s = time.perf_counter() - started
    eval_loss = _eval_loss(model, eval_set, cfg.batch_size, pad, accelerator.device)
    write_log({"step": step, "eval_loss": eval_loss})
    save_checkpoint()
    summary = {
        "adapter": cfg.adapter,
        "adapter_dir": str(out / cfg.adapter),
        "steps": step,
        "examples": len(train_set),
        "eval_examples": len(eval_set),
        "dropped_too_long": dropped,
        "final_loss": last_loss,
        "eval_loss": eval_loss,
        "train_s": train_s,
        "tokens_per_s": tokens / max(train_s, 1e-9),
        "trainable_params": trainable,
        "total_params": total,
        "trainable_share": trainable / total,
        "config": asdict(cfg),
    }
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        # PEFT writes a non-default adapter into out/<name>/, which is the directory the lora: spec names.
        unwrapped.save_pretrained(str(out), selected_adapters=[cfg.adapter])
        write_base_fingerprint(out / cfg.adapter, unwrapped.get_base_model(), base.location)
        (out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log.close()
    accelerator.wait_for_everyone()
    return summary
