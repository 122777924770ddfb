"""``citegraph train judge``: train the cross-encoder judge from public training sets in a folder.

Only typer is imported at module level: ``citegraph --help`` must not pay for importing torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def train_judge_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Folder of public training sets (formats: citegraph/models/judge/data.py)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Run folder: the judge, log.json, loss.png, MODEL_CARD.md.")
    ],
    steps: Annotated[int, typer.Option(help="Optimizer steps (one head per step).")] = 1800,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 16,
    learning_rate: Annotated[float, typer.Option(help="Encoder learning rate (heads: 10x).")] = 8e-5,
    layers: Annotated[
        int, typer.Option(help="Encoder layers kept from the base model (speed vs quality).")
    ] = 6,
    eval_every: Annotated[int, typer.Option(help="Score the held-out examples every N steps.")] = 600,
    seed: int = 0,
    init: Annotated[
        Path | None,
        typer.Option(
            "--init",
            help="Go on training the judge saved in this folder (e.g. on a new domain) instead of "
            "starting from the base encoder; its layer count wins over --layers.",
        ),
    ] = None,
    recalibrate: Annotated[
        bool,
        typer.Option(
            help="Only refit the stacks and thresholds of the judge already in --out (no training)."
        ),
    ] = False,
    listwise: Annotated[
        bool,
        typer.Option(
            help="Train the --init judge's answer head on the shortlists the answer step builds for the "
            "questions written in --data (questions.jsonl and docs/), --batch-size lists a step; "
            "recalibrate it afterwards."
        ),
    ] = False,
    rehearse: Annotated[
        Path | None,
        typer.Option(
            "--rehearse",
            help="With --listwise: a folder of training sets (the stage before's --data) whose examples "
            "are trained on beside the lists, one batch a step, so the other heads and the scores' scale "
            "stay where that stage left them.",
        ),
    ] = None,
) -> None:
    """Train the judge (answer, span, answerable and support heads) on CPU and save it with its model card."""
    from citegraph.models.judge import train
    from citegraph.models.judge.data import read_folder

    if not data.is_dir():
        print(f"error: training data folder does not exist: {data}", file=sys.stderr)
        raise typer.Exit(2)
    settings = train.JudgeTraining(
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        layers=layers,
        eval_every=eval_every,
        seed=seed,
        init=init,
    )
    try:
        if listwise:
            from citegraph.models.judge.listwise import train_listwise

            if rehearse is not None and not rehearse.is_dir():
                raise FileNotFoundError(f"rehearsal folder does not exist: {rehearse}")
            result = train_listwise(data, out, settings, read_folder(rehearse) if rehearse else None)
        elif recalibrate:
            result = train.recalibrate(read_folder(data), out, settings)
        else:
            result = train.train_judge(read_folder(data), out, settings)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(json.dumps({k: result[k] for k in ("data", "examples", "held_out", "seconds")}, indent=1))


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this subpackage's commands to the ``citegraph`` command groups."""
    train_app.command("judge")(train_judge_command)
