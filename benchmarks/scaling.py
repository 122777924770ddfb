"""A small scaling study of the scratch GPT on tiny shakespeare (char level): model size x data size.

    nice -n 10 python benchmarks/scaling.py --data ../shared/data/tinyshakespeare/input.txt \
        --json benchmarks/results/scaling.json --plot benchmarks/results/scaling.png \
        [--steps 400] [--threads 1]

Grid: six model sizes (4k to 795k parameters; RoPE, RMSNorm, SwiGLU; block 64) x three training-set sizes
(the first 1/9, 1/3 and all of the train split: 112k, 335k and 1.0M characters). Every run gets the same
training budget: ``--steps`` AdamW steps of 16 x 64 tokens (410k tokens at 400 steps), so the small data
sets are seen for several epochs (they are the data-limited runs) and the compute of a run grows with its
model. Recipe of the scratch trainer: lr 2e-3, warmup over a tenth of the steps, cosine decay to 2e-4,
weight decay 0.1, clipping at 1.0, seed 1337. ``val_loss`` is exact over the whole held-out 10%.

Fits (``citegraph/models/scratch/scaling.py``):

- loss vs parameters N at each data size: ``L = a * N**-alpha + c`` by least squares in log L (``c`` the
  irreducible part, on a grid), and the plain log-log slope (no ``c``);
- loss vs data size D at each model size: the plain log-log slope (three points do not pin down three
  parameters);
- loss vs tokens seen: the log-log slope of the largest model's val curve on the full data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from benchmarks.common import machine, save
from citegraph.models.scratch.data import TokenData, read_texts, split_texts
from citegraph.models.scratch.model import GPTConfig
from citegraph.models.scratch.scaling import fit_power_law, loglog_slope, train_run
from citegraph.models.scratch.tokenizer import CharTokenizer

# (n_layer, n_head, n_embd): widths and depths grow together, as in the scaling-law papers' families.
SIZES = [(1, 2, 16), (1, 2, 32), (2, 2, 32), (2, 4, 64), (3, 4, 96), (4, 4, 128)]
DATA_FRACTIONS = [1 / 9, 1 / 3, 1.0]
BLOCK, BATCH = 64, 16


def plot(result: dict, path: Path) -> None:
    """Three panels: loss vs parameters (one line per data size, with the fit), loss vs data size (one line
    per model), and the val curves against tokens seen on the full data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    runs = result["runs"]
    data_sizes = sorted({r["train_tokens_available"] for r in runs})
    params = sorted({r["params"] for r in runs})
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 5))
    colours = plt.cm.viridis(np.linspace(0.1, 0.85, len(data_sizes)))
    for colour, d in zip(colours, data_sizes, strict=True):
        rows = sorted((r for r in runs if r["train_tokens_available"] == d), key=lambda r: r["params"])
        n = np.array([r["params"] for r in rows])
        left.plot(n, [r["val_loss"] for r in rows], "o", color=colour, label=f"D = {d / 1e3:.0f}k chars")
        fit = result["fits"]["loss_vs_params"][str(d)]["power_law"]
        grid = np.geomspace(n.min(), n.max(), 100)
        left.plot(
            grid,
            fit["a"] * grid ** -fit["alpha"] + fit["c"],
            "-",
            color=colour,
            alpha=0.7,
            label=f"  fit: alpha={fit['alpha']:.2f}, c={fit['c']:.2f}",
        )
    left.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="val loss (nats/char)")
    left.set_title(f"loss vs parameters ({result['steps']} steps x {BATCH}x{BLOCK} tokens each)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    colours = plt.cm.plasma(np.linspace(0.05, 0.85, len(params)))
    for colour, n in zip(colours, params, strict=True):
        rows = sorted((r for r in runs if r["params"] == n), key=lambda r: r["train_tokens_available"])
        slope = result["fits"]["loss_vs_data"][str(n)]["loglog_slope"]
        middle.plot(
            [r["train_tokens_available"] for r in rows],
            [r["val_loss"] for r in rows],
            "o-",
            color=colour,
            label=f"N = {n / 1e3:.0f}k (slope {slope:+.3f})",
        )
    middle.set(xscale="log", yscale="log", xlabel="training-set size D (characters)", ylabel="val loss")
    middle.set_title("loss vs data size (same number of steps)")
    middle.legend(fontsize=8)
    middle.grid(alpha=0.3, which="both")
    full = max(data_sizes)
    for colour, n in zip(colours, params, strict=True):
        run = next(r for r in runs if r["params"] == n and r["train_tokens_available"] == full)
        right.plot([p["tokens"] for p in run["curve"]], [p["val"] for p in run["curve"]], ".-", color=colour)
    right.set(xscale="log", yscale="log", xlabel="tokens seen", ylabel="val loss (first 16k val chars)")
    right.set_title(f"training curves on the full data (D = {full / 1e3:.0f}k)")
    right.grid(alpha=0.3, which="both")
    for ax in (left, middle, right):
        # Plain numbers on the log loss axis: the default would print 3.5 as "3.5 x 10^0".
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%.2f"))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fits(runs: list[dict]) -> dict:
    """Power-law fits of val loss against parameters (per data size) and against data (per model)."""
    out: dict = {"loss_vs_params": {}, "loss_vs_data": {}}
    for d in sorted({r["train_tokens_available"] for r in runs}):
        rows = sorted((r for r in runs if r["train_tokens_available"] == d), key=lambda r: r["params"])
        n, loss = [r["params"] for r in rows], [r["val_loss"] for r in rows]
        slope, _ = loglog_slope(n, loss)
        out["loss_vs_params"][str(d)] = {
            "power_law": {k: round(v, 4) for k, v in fit_power_law(n, loss).to_dict().items()},
            "loglog_slope": round(slope, 4),
        }
    for n in sorted({r["params"] for r in runs}):
        rows = sorted((r for r in runs if r["params"] == n), key=lambda r: r["train_tokens_available"])
        slope, _ = loglog_slope([r["train_tokens_available"] for r in rows], [r["val_loss"] for r in rows])
        out["loss_vs_data"][str(n)] = {"loglog_slope": round(slope, 4)}
    full = max(r["train_tokens_available"] for r in runs)
    largest = max((r for r in runs if r["train_tokens_available"] == full), key=lambda r: r["params"])
    # The curve after warmup (the first tenth of the steps), where the schedule no longer dominates.
    tail = [p for p in largest["curve"] if p["step"] > largest["curve"][-1]["step"] // 10]
    slope, _ = loglog_slope([p["tokens"] for p in tail], [p["val"] for p in tail])
    out["loss_vs_tokens_seen"] = {"params": largest["params"], "loglog_slope": round(slope, 4)}
    return out


def main() -> None:
    """Train the grid, fit, plot, save."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="tiny shakespeare input.txt")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    texts = read_texts([args.data])
    (train_text,), (val_text,) = split_texts(texts, 0.1)
    tok = CharTokenizer.train(texts)
    train_ids = np.asarray(tok.encode(train_text), dtype=np.int64)
    val_ids = np.asarray(tok.encode(val_text), dtype=np.int64)
    started = time.perf_counter()
    runs = []
    for fraction in DATA_FRACTIONS:
        data = TokenData(train=train_ids[: int(len(train_ids) * fraction)], val=val_ids)
        for n_layer, n_head, n_embd in SIZES:
            cfg = GPTConfig(
                vocab_size=tok.vocab_size, block_size=BLOCK, n_layer=n_layer, n_head=n_head, n_embd=n_embd
            )
            run = train_run(data, cfg, args.steps, BATCH, seed=args.seed, eval_every=args.eval_every)
            run["model"] = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}
            runs.append(run)
            print(
                f"D={len(data.train):>8,}  N={run['params']:>8,}  ({n_layer}x{n_head}x{n_embd})  "
                f"val {run['val_loss']:.4f}  train {run['train_loss']:.4f}  epochs {run['epochs']:.2f}  "
                f"{run['tokens_per_s']:,.0f} tok/s",
                flush=True,
            )
    result = {
        "command": " ".join(["python", *sys.argv]),
        "data": str(args.data),
        "vocab_size": tok.vocab_size,
        "val_tokens": int(val_ids.size),
        "steps": args.steps,
        "batch_size": BATCH,
        "block_size": BLOCK,
        "tokens_per_run": args.steps * BATCH * BLOCK,
        "threads": torch.get_num_threads(),
        "seed": args.seed,
        "fit_method": (
            "loss_vs_params.power_law: L = a*N^-alpha + c, least squares in log L "
            "(c on a grid in [0, min L), a and alpha by a straight-line fit of log(L-c) on log N "
            "for each c); loglog_slope: the least-squares slope of log L on log x, no c (exponent = -slope)"
        ),
        "fits": fits(runs),
        "runs": runs,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }
    if args.plot:
        plot(result, args.plot)
    save(result, args.json, indent=1, echo_without=("runs",))


if __name__ == "__main__":
    main()
