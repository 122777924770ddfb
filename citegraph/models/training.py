"""What every training command shares: a progress bar on a terminal (plain lines otherwise) and the loss
plot each run writes beside its JSON log."""

from __future__ import annotations

import sys
from pathlib import Path


def save_loss_plot(
    history: dict[str, list], path: Path, title: str = "", ylabel: str = "cross-entropy (nats/token)"
) -> None:
    """Training loss per step (light) and its moving average, validation loss at each evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if history["train"]:
        steps = [s for s, _, _ in history["train"]]
        losses = [v for _, v, _ in history["train"]]
        ax.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8)
        window = max(1, len(losses) // 50)
        smooth = [
            sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1) : i + 1])
            for i in range(len(losses))
        ]
        ax.plot(steps, smooth, color="tab:blue", label="train")
    if history["eval"]:
        ax.plot(
            [e["iter"] for e in history["eval"]],
            [e["val"] for e in history["eval"]],
            "o-",
            color="tab:orange",
            label="val",
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


class TrainProgress:
    """A rich progress bar on a terminal, one line per evaluation otherwise; silent when not verbose."""

    def __init__(self, enabled: bool, total: int, start: int = 0, label: str = "train") -> None:
        self.enabled = enabled
        self.label = label
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("train", total=total, completed=start, info="")

    def step(self, it: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=it, info=f"loss {loss:.3f}")

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
