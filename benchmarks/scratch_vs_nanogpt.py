"""The scratch GPT and nanoGPT trained side by side on nanoGPT's CPU "baby" shakespeare config, in one run.

    git --git-dir=<nanoGPT mirror> archive HEAD | tar -x -C /tmp/nanogpt     # nanoGPT is never copied here
    python benchmarks/scratch_vs_nanogpt.py --nanogpt /tmp/nanogpt \
        --data ../shared/data/tinyshakespeare/input.txt --threads 2 \
        --json benchmarks/results/scratch_speed_vs_nanogpt.json [--iters 2000] [--baseline-src /tmp/cg_base]

Both trainers run as their own processes, one after the other, with the same thread count
(``OMP_NUM_THREADS`` and, for ours, ``--threads``), the same config (4 layers, 4 heads, 128 wide, block 64,
batch 12, lr 1e-3 cosine to 1e-4 over ``--iters`` with 100 warmup steps, AdamW (0.9, 0.99), weight decay
0.1, clipping at 1.0, no dropout, fp32) and an evaluation of 20 batches every 250 iterations. nanoGPT is
the command in results/scratch_nanogpt_baby.json; ours is ``citegraph train scratch``. ``--baseline-src``
adds a third run of an older checkout of this package (a ``git archive`` of a commit), for before/after.

Reported for each run:

- ``tokens_per_s_median_step``: training tokens per second at the median iteration time (nanoGPT prints
  each iteration's time; ours logs it), robust to a slow step when the machine is shared;
- ``tokens_per_s_loop``: training tokens over the wall time of the whole training loop, evaluations and
  checkpoint writes included (startup and data preparation excluded);
- ``val_loss``: the exact mean loss of the final weights over all of the held-out 10% in non-overlapping
  64-token windows (the metric of results/scratch_shakespeare.json), computed here for both models.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from benchmarks.common import machine, save
from citegraph.models.scratch.evaluate import score_tokens

ROOT = Path(__file__).resolve().parent.parent
BLOCK, BATCH = 64, 12
EVAL_ITERS = 20
ITER_LINE = re.compile(r"^iter (\d+): loss ([\d.]+), time ([\d.]+)ms")
EVAL_LINE = re.compile(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)")


def nanogpt_command(iters: int, out_dir: Path, eval_interval: int) -> list[str]:
    """nanoGPT's train.py arguments for the baby config (the command of results/scratch_nanogpt_baby.json)."""
    return [
        sys.executable,
        "train.py",
        "config/train_shakespeare_char.py",
        "--device=cpu",
        "--compile=False",
        f"--eval_iters={EVAL_ITERS}",
        f"--eval_interval={eval_interval}",
        "--log_interval=1",
        f"--block_size={BLOCK}",
        f"--batch_size={BATCH}",
        "--n_layer=4",
        "--n_head=4",
        "--n_embd=128",
        f"--max_iters={iters}",
        f"--lr_decay_iters={iters}",
        "--dropout=0.0",
        "--dtype=float32",
        "--always_save_checkpoint=True",  # the final weights are scored, not the best-val ones
        f"--out_dir={out_dir}",
    ]


def scratch_command(iters: int, data: Path, out_dir: Path, threads: int, eval_interval: int) -> list[str]:
    """``citegraph train scratch`` with the same config (its defaults already match the rest)."""
    return [
        sys.executable,
        "-m",
        "citegraph.cli",
        "train",
        "scratch",
        "--data",
        str(data),
        "--out",
        str(out_dir),
        "--tokenizer",
        "char",
        f"--block-size={BLOCK}",
        f"--batch-size={BATCH}",
        f"--max-iters={iters}",
        f"--eval-interval={eval_interval}",
        f"--eval-iters={EVAL_ITERS}",
        "--device=cpu",
        "--quiet",
    ] + ([f"--threads={threads}"] if threads else [])


def prepare_nanogpt_data(nanogpt: Path, text: Path) -> Path:
    """nanoGPT's own prepare.py on our copy of the text (it only downloads when input.txt is missing)."""
    folder = nanogpt / "data" / "shakespeare_char"
    if not (folder / "input.txt").is_file() or (folder / "input.txt").read_bytes() != text.read_bytes():
        shutil.copyfile(text, folder / "input.txt")
    subprocess.run([sys.executable, "prepare.py"], cwd=folder, check=True, capture_output=True)
    return folder


def env_for(threads: int, pythonpath: Path | None = None) -> dict[str, str]:
    """The environment of a training process: its thread count and, for a baseline, its package source."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = str(pythonpath or ROOT)
    return env


def run_nanogpt(nanogpt: Path, iters: int, threads: int, out_dir: Path, eval_interval: int) -> dict:
    """Train nanoGPT; per-iteration times and evals come from its log lines."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        nanogpt_command(iters, out_dir, eval_interval),
        cwd=nanogpt,
        env=env_for(threads),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"nanoGPT failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    step_ms, evals = {}, []
    for line in proc.stdout.splitlines():
        if m := ITER_LINE.match(line):
            step_ms[int(m[1])] = float(m[3])
        elif m := EVAL_LINE.match(line):
            evals.append({"iter": int(m[1]), "train": float(m[2]), "val": float(m[3])})
    # nanoGPT times iteration i from the end of i-1, so the iterations right after an evaluation carry it;
    # it also runs one iteration more than max_iters (its loop stops when iter_num > max_iters).
    steps = [ms for it, ms in step_ms.items() if it % eval_interval and it > 0]
    tokens = BATCH * BLOCK * len(step_ms)
    return {
        "tokens_per_s_median_step": round(BATCH * BLOCK / (statistics.median(steps) / 1000), 1),
        "tokens_per_s_loop": round(tokens / (sum(step_ms.values()) / 1000), 1),
        "iters_run": len(step_ms),
        "val_loss_est": evals[-1]["val"] if evals else None,
        "evals": evals,
        "process_wall_s": round(wall, 1),
    }


def run_scratch(
    data: Path, iters: int, threads: int, out_dir: Path, source: Path | None, eval_interval: int
) -> dict:
    """Train with ``citegraph train scratch`` (this checkout, or ``source``); figures from its log.json."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        # An older checkout may not have --threads; OMP_NUM_THREADS sets its thread count alike.
        scratch_command(iters, data, out_dir, threads if source is None else 0, eval_interval),
        cwd=ROOT,
        env=env_for(threads, source),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"citegraph train scratch failed:\n{proc.stderr[-3000:]}")
    log = json.loads((out_dir / "log.json").read_text(encoding="utf-8"))
    tokens = log["tokens_seen"]
    result = {
        "tokens_per_s_median_step": round(log["tokens_per_s_median_step"], 1)
        if log.get("tokens_per_s_median_step")
        else None,
        # An older checkout does not log the loop's wall time; its mean step time is the closest figure.
        "tokens_per_s_loop": round(tokens / log["loop_seconds"], 1) if "loop_seconds" in log else None,
        "tokens_per_s_mean_step": round(log["tokens_per_s"], 1),
        "iters_run": log["iters"],
        "val_loss_est": round(log["val_loss"], 4),
        "evals": log["history"]["eval"],
        "process_wall_s": round(wall, 1),
    }
    if "timing_s" in log:
        result["timing_s"] = log["timing_s"]
    return result


def exact_val_loss(model: torch.nn.Module, val_ids: np.ndarray) -> float:
    """The exact held-out loss: every val token, non-overlapping windows of the training length."""
    return round(score_tokens(model, val_ids).loss, 4)


def load_nanogpt(nanogpt: Path, out_dir: Path) -> torch.nn.Module:
    """nanoGPT's final checkpoint as its own model class (imported from its folder at run time)."""
    sys.path.insert(0, str(nanogpt))
    try:
        # nanoGPT's own module, importable only from its folder (it is never copied into this repo).
        from model import GPT as NanoGPT
        from model import GPTConfig as NanoConfig
    finally:
        sys.path.remove(str(nanogpt))
    ckpt = torch.load(out_dir / "ckpt.pt", map_location="cpu", weights_only=False)
    model = NanoGPT(NanoConfig(**ckpt["model_args"]))
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    model.load_state_dict(state)
    return model.eval()


def main() -> None:
    """Run nanoGPT, then ours (then a baseline checkout, if given), score both and save the comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanogpt", required=True, type=Path, help="an extracted nanoGPT checkout")
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-interval", type=int, default=250)
    ap.add_argument("--baseline-src", type=Path, default=None, help="folder holding an older citegraph/")
    ap.add_argument("--baseline-iters", type=int, default=None, help="iterations of the baseline run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from citegraph.models.scratch.generate import load_model

    data_dir = prepare_nanogpt_data(args.nanogpt.resolve(), args.data.resolve())
    val_ids = np.fromfile(data_dir / "val.bin", dtype=np.uint16)
    runs: dict[str, dict] = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"nanoGPT: {args.iters} iterations on {args.threads} thread(s)", flush=True)
        runs["nanogpt"] = run_nanogpt(
            args.nanogpt.resolve(), args.iters, args.threads, Path(tmp) / "nano", args.eval_interval
        )
        nano = load_nanogpt(args.nanogpt.resolve(), Path(tmp) / "nano")
        runs["nanogpt"]["params"] = sum(p.numel() for p in nano.parameters())
        runs["nanogpt"]["val_loss"] = exact_val_loss(nano, val_ids)
        print(f"  {json.dumps({k: v for k, v in runs['nanogpt'].items() if k != 'evals'})}", flush=True)

        print("citegraph train scratch", flush=True)
        ours_dir = Path(tmp) / "scratch"
        runs["citegraph"] = run_scratch(
            args.data.resolve(), args.iters, args.threads, ours_dir, None, args.eval_interval
        )
        model, _ = load_model(ours_dir, checkpoint="last")
        # Same text, same split and the same sorted alphabet: our val.bin holds nanoGPT's val ids.
        ours_val = np.fromfile(ours_dir / "val.bin", dtype=np.uint16)
        if not np.array_equal(ours_val, val_ids):
            raise RuntimeError("the two val splits differ; the losses would not be comparable")
        runs["citegraph"]["params"] = model.num_params()
        runs["citegraph"]["val_loss"] = exact_val_loss(model, val_ids)
        print(f"  {json.dumps({k: v for k, v in runs['citegraph'].items() if k != 'evals'})}", flush=True)

        if args.baseline_src:
            iters = args.baseline_iters or args.iters
            print(f"baseline checkout {args.baseline_src}: {iters} iterations", flush=True)
            base_dir = Path(tmp) / "baseline"
            runs["citegraph_baseline"] = run_scratch(
                args.data.resolve(),
                iters,
                args.threads,
                base_dir,
                args.baseline_src.resolve(),
                args.eval_interval,
            )
            runs["citegraph_baseline"]["source"] = str(args.baseline_src)
            if iters == args.iters:
                base_model, _ = load_model(base_dir, checkpoint="last")
                runs["citegraph_baseline"]["val_loss"] = exact_val_loss(base_model, val_ids)

    nano_speed = runs["nanogpt"]
    ratios = {
        name: {
            key: round(run[key] / nano_speed[key], 3)
            for key in ("tokens_per_s_median_step", "tokens_per_s_loop")
            if run.get(key) and nano_speed.get(key)
        }
        for name, run in runs.items()
    }
    result = {
        "what": "scratch GPT (citegraph train scratch) and nanoGPT trained one after the other, one run",
        "command": " ".join(["python", *sys.argv]),
        "nanogpt_command": "OMP_NUM_THREADS={} python {}".format(
            args.threads, " ".join(nanogpt_command(args.iters, Path("OUT"), args.eval_interval)[1:])
        ),
        "scratch_command": "OMP_NUM_THREADS={} citegraph {}".format(
            args.threads,
            # From "train": the command after ``python -m citegraph.cli``.
            " ".join(
                scratch_command(args.iters, Path("input.txt"), Path("OUT"), args.threads, args.eval_interval)[
                    3:
                ]
            ),
        ),
        "iters": args.iters,
        "threads": args.threads,
        "started": started,
        "val_loss_note": "exact mean over all of val.bin in non-overlapping 64-token windows, final weights",
        "ratio_to_nanogpt": ratios,
        "runs": runs,
        "machine": machine(),
    }
    save(result, args.json, indent=1, echo_without=("runs",))


if __name__ == "__main__":
    main()
