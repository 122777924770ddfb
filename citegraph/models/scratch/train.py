"""Train the scratch transformer on text files: on CPU, one GPU, or several processes under ``torchrun``.

    citegraph train scratch --data book.txt --out runs/book            # one process
    torchrun --nproc_per_node 2 -m citegraph.cli train scratch ...      # DDP (gloo on CPU, nccl on GPU)

The run directory is self-contained: tokenizer.json, the memory-mapped token data, ``ckpt.pt`` (everything
needed to resume exactly: model, optimizer, scaler, RNG and data-sampler state), ``model.pt`` (weights of
the best validation loss, for inference), ``log.json`` and ``loss.png``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from citegraph.models.scratch.data import DataError, TokenData, prepare_data
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.tokenizer import TOKENIZER_FILE, load_tokenizer
from citegraph.models.training import TrainProgress, save_loss_plot

CKPT_FILE = "ckpt.pt"  # latest state, for resuming
MODEL_FILE = "model.pt"  # best-validation weights, for inference
LOG_FILE = "log.json"
PLOT_FILE = "loss.png"
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


@dataclass
class TrainConfig:
    """One training run. Defaults are a small model that trains in minutes on a laptop CPU."""

    data: list[str] = field(default_factory=list)
    out_dir: str = "runs/scratch"
    # tokenizer and data
    tokenizer: str = "bpe"  # "bpe" | "char"
    vocab_size: int = 4096  # BPE only; a char vocabulary is the text's alphabet
    val_fraction: float = 0.1
    # model (see GPTConfig)
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None
    n_embd: int = 128
    block_size: int = 128
    mlp_hidden: int | None = None
    dropout: float = 0.0
    bias: bool = False
    pos: str = "rope"
    norm: str = "rmsnorm"
    mlp: str = "swiglu"
    # optimisation
    batch_size: int = 12  # per process and micro-step
    grad_accum: int = 1  # micro-steps per optimizer step (per process)
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int | None = None  # None: decay until max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # 0 disables clipping
    label_smoothing: float = 0.0
    # evaluation, early stopping
    eval_interval: int = 250
    eval_iters: int = 20
    patience: int = 0  # stop after this many evaluations without a better val loss; 0: never
    # system
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" | "mps"
    threads: int | None = None  # torch intra-op threads; None leaves the process's setting alone
    dtype: str = "auto"  # "auto" (bf16/fp16 on CUDA, fp32 elsewhere) | "float32" | "bfloat16" | "float16"
    seed: int = 1337
    resume: bool = False
    verbose: bool = True  # progress bar (terminal) or a line per eval (logs) on rank 0

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_kv_head=self.n_kv_head,
            n_embd=self.n_embd,
            mlp_hidden=self.mlp_hidden,
            dropout=self.dropout,
            bias=self.bias,
            pos=self.pos,
            norm=self.norm,
            mlp=self.mlp,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def lr_at(it: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``lr``, then cosine decay to ``min_lr`` at ``lr_decay_iters``, then flat."""
    decay_iters = cfg.lr_decay_iters or cfg.max_iters
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / (cfg.warmup_iters + 1)
    if it >= decay_iters:
        return cfg.min_lr
    progress = (it - cfg.warmup_iters) / max(1, decay_iters - cfg.warmup_iters)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype; float32 means no autocast. CPU stays fp32 by default: bf16 matmuls are slower
    than fp32 on most CPUs without AMX, and the models trained here are small."""
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"dtype={name!r}; expected auto, float32, bfloat16 or float16")
    return dtypes[name]


def _atomic_save(obj: Any, path: Path) -> None:
    """Write to a temporary file and rename: a crash mid-write never leaves a truncated checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _setup_distributed() -> tuple[bool, int, int, int]:
    """(ddp, rank, local_rank, world_size) from the variables torchrun sets."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False, 0, 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return True, dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size()


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run training to ``max_iters`` (or early stop) and return the summary also written to log.json."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out_dir = Path(cfg.out_dir)
    ddp, rank, local_rank, world = _setup_distributed()
    master = rank == 0
    try:
        ckpt = None
        if cfg.resume:
            if not (out_dir / CKPT_FILE).is_file():
                raise FileNotFoundError(f"--resume: no {CKPT_FILE} in {out_dir}")
            ckpt = torch.load(out_dir / CKPT_FILE, map_location="cpu", weights_only=False)
            # Architecture and data come from the checkpoint; the length and verbosity of the run may change.
            saved = TrainConfig.from_dict(ckpt["train_config"])
            cfg = replace(
                saved, max_iters=cfg.max_iters, patience=cfg.patience, verbose=cfg.verbose, resume=True
            )
        result = _train(cfg, out_dir, ckpt, ddp, rank, local_rank, world, master)
        if ddp:
            # Ranks leave together: a rank tearing gloo down while its peer is still busy (rank 0 writes the
            # log and plot) has been seen to abort at exit on a loaded CI machine.
            dist.barrier()
        return result
    finally:
        if ddp:
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    out_dir: Path,
    ckpt: dict | None,
    ddp: bool,
    rank: int,
    local_rank: int,
    world: int,
    master: bool,
) -> dict[str, Any]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    if ddp and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dtype = pick_dtype(cfg.dtype, device)

    # Data: rank 0 tokenizes once; the others wait, then everyone memory-maps the same files.
    if ckpt is None and master:
        out_dir.mkdir(parents=True, exist_ok=True)
        prepare_data([Path(f) for f in cfg.data], out_dir, cfg.tokenizer, cfg.vocab_size, cfg.val_fraction)
    if ddp:
        dist.barrier()
    if not (out_dir / TOKENIZER_FILE).is_file():
        raise DataError(f"no prepared data in {out_dir}")
    tokenizer = load_tokenizer(out_dir)
    data = TokenData.open(out_dir)
    data.check(cfg.block_size)

    # Same init on every rank (DDP would broadcast rank 0's anyway); dropout streams differ per rank.
    torch.manual_seed(cfg.seed)
    model_cfg = GPTConfig.from_dict(ckpt["model_config"]) if ckpt else cfg.model_config(tokenizer.vocab_size)
    model = GPT(model_cfg).to(device)
    optimizer = torch.optim.AdamW(
        model.optimizer_groups(cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        # The fused kernel updates every tensor in one pass; on CPU the default per-tensor loop launches
        # ~10 small ops per parameter: 1.85 ms against 0.55 fused per baby-config step on one thread.
        fused=device.type in FUSED_ADAMW_DEVICES,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    torch.manual_seed(cfg.seed + rank)
    batch_gen = torch.Generator().manual_seed(cfg.seed + 1000 * (rank + 1))
    it, best_val, bad_evals = 0, float("inf"), 0
    history: dict[str, list] = {"train": [], "eval": []}
    train_seconds, tokens_seen = 0.0, 0
    # Where this process's wall time goes (seconds), for profiling the loop; not part of the checkpoint.
    timing = dict.fromkeys(("data", "forward_backward", "optimizer", "eval", "checkpoint", "progress"), 0.0)
    step_seconds: list[float] = []
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        it, best_val, bad_evals = ckpt["iter"], ckpt["best_val"], ckpt["bad_evals"]
        history, train_seconds, tokens_seen = ckpt["history"], ckpt["train_seconds"], ckpt["tokens_seen"]
        rng = ckpt["rng"][rank] if rank < len(ckpt["rng"]) else ckpt["rng"][0]
        torch.set_rng_state(rng["torch"])
        batch_gen.set_state(rng["batch"])
        if device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"], device)
    raw_model = model
    if ddp:
        model = DDP(model, device_ids=[local_rank] if device.type == "cuda" else None)
    autocast = (
        torch.autocast(device_type=device.type, dtype=dtype)
        if dtype != torch.float32
        else contextlib.nullcontext()
    )
    tokens_per_step = cfg.batch_size * cfg.block_size * cfg.grad_accum * world

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        """Mean loss over the same ``eval_iters`` batches of each split every time (comparable evals)."""
        raw_model.eval()
        result = {}
        for split in ("train", "val"):
            gen = torch.Generator().manual_seed(cfg.seed + (1 if split == "train" else 2))
            total = 0.0
            for _ in range(cfg.eval_iters):
                x, y = data.batch(split, cfg.batch_size, cfg.block_size, gen)
                with autocast:
                    _, loss = raw_model(x.to(device), y.to(device))
                total += loss.item()
            result[split] = total / cfg.eval_iters
        raw_model.train()
        return result

    def gather_rng() -> list[dict]:
        """Every rank's RNG state, so each rank resumes its own dropout and data streams."""
        mine = {
            "torch": torch.get_rng_state(),
            "batch": batch_gen.get_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }
        if not ddp:
            return [mine]
        everyone: list[Any] = [None] * world
        dist.all_gather_object(everyone, mine)
        return everyone

    def save_checkpoint() -> None:
        rng = gather_rng()  # collective: every rank must call it
        if not master:
            return
        _atomic_save(
            {
                "model": raw_model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "iter": it,
                "best_val": best_val,
                "bad_evals": bad_evals,
                "history": history,
                "train_seconds": train_seconds,
                "tokens_seen": tokens_seen,
                "rng": rng,
                "train_config": asdict(cfg),
                "model_config": model_cfg.to_dict(),
            },
            out_dir / CKPT_FILE,
        )

    def summary(stopped_early: bool) -> dict[str, Any]:
        last = history["eval"][-1] if history["eval"] else {}
        return {
            "params": raw_model.num_params(),
            "iters": it,
            "train_loss": last.get("train"),
            "val_loss": last.get("val"),
            "best_val_loss": best_val if best_val < float("inf") else None,
            "stopped_early": stopped_early,
            "tokens_per_s": tokens_seen / train_seconds if train_seconds else None,
            # Median step time: robust to a machine shared with other jobs (one slow step moves the mean).
            "tokens_per_s_median_step": (
                tokens_per_step / statistics.median(step_seconds) if step_seconds else None
            ),
            "timing_s": {k: round(v, 3) for k, v in timing.items()},
            "loop_seconds": round(time.perf_counter() - loop_start, 3),  # this process: steps, evals, saves
            "train_seconds": train_seconds,
            "tokens_seen": tokens_seen,
            "world_size": world,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "train_config": asdict(cfg),
            "model_config": model_cfg.to_dict(),
            "history": history,
        }

    progress = TrainProgress(cfg.verbose and master, cfg.max_iters, it)
    if master:
        progress.note(
            f"{raw_model.num_params():,} parameters; {len(data.train):,} train / {len(data.val):,} val "
            f"tokens; {world} process(es) on {device}, {str(dtype).removeprefix('torch.')}"
        )
    resumed_at = it if ckpt is not None else None
    stopped_early = False
    loop_start = time.perf_counter()
    try:
        while True:
            if (it % cfg.eval_interval == 0 or it >= cfg.max_iters) and it != resumed_at:
                t_eval = time.perf_counter()
                losses = evaluate()
                t_saved = time.perf_counter()
                timing["eval"] += t_saved - t_eval
                history["eval"].append({"iter": it, "train": losses["train"], "val": losses["val"]})
                if losses["val"] < best_val:
                    best_val, bad_evals = losses["val"], 0
                    if master:
                        _atomic_save(
                            {
                                "model": raw_model.state_dict(),
                                "model_config": model_cfg.to_dict(),
                                "iter": it,
                                "val_loss": best_val,
                            },
                            out_dir / MODEL_FILE,
                        )
                else:
                    bad_evals += 1
                progress.note(f"iter {it}: train {losses['train']:.4f}, val {losses['val']:.4f}")
                save_checkpoint()
                timing["checkpoint"] += time.perf_counter() - t_saved
                if master:
                    (out_dir / LOG_FILE).write_text(json.dumps(summary(False), indent=1), encoding="utf-8")
                if cfg.patience and bad_evals >= cfg.patience:
                    progress.note(f"early stop: no better val loss in {cfg.patience} evaluations")
                    stopped_early = True
                    break
            if it >= cfg.max_iters:
                break

            t0 = time.perf_counter()
            lr = lr_at(it, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            step_loss = 0.0
            for micro in range(cfg.grad_accum):
                t_data = time.perf_counter()
                x, y = data.batch("train", cfg.batch_size, cfg.block_size, batch_gen)
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                t_model = time.perf_counter()
                timing["data"] += t_model - t_data
                # Under DDP, all-reduce gradients only on the last micro-step of the accumulation.
                sync = contextlib.nullcontext() if not ddp or micro == cfg.grad_accum - 1 else model.no_sync()
                with sync:
                    with autocast:
                        _, loss = model(x, y, label_smoothing=cfg.label_smoothing)
                        loss = loss / cfg.grad_accum
                    scaler.scale(loss).backward()
                step_loss += loss.item()  # waits for the device: the model's time ends here
                timing["forward_backward"] += time.perf_counter() - t_model
            t_opt = time.perf_counter()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            it += 1
            t_end = time.perf_counter()
            timing["optimizer"] += t_end - t_opt
            train_seconds += t_end - t0
            step_seconds.append(t_end - t0)
            tokens_seen += tokens_per_step
            history["train"].append((it, step_loss, lr))
            progress.step(it, step_loss)
            timing["progress"] += time.perf_counter() - t_end
    finally:
        progress.close()

    result = summary(stopped_early)
    if ddp:
        # Every rank reports a checksum of its weights: after all-reduced steps they must be identical.
        checksum = sum(p.double().sum().item() for p in raw_model.parameters())
        sums: list[Any] = [None] * world
        dist.all_gather_object(sums, checksum)
        result["param_checksums"] = sums
    if master:
        (out_dir / LOG_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
        title = f"{out_dir.name}: {result['params']:,} params, best val {best_val:.3f}"
        save_loss_plot(history, out_dir / PLOT_FILE, title)
    return result
