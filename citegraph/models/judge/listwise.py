"""The judge's last stage: the answer head trained on the choice the answer step really makes.

The first two stages teach the answer head one sentence at a time: does this sentence answer this
question? The answer step asks something else: which of the sentences it shortlisted from the retrieved
passages (``answerer.shortlist``: about eight, from five passages) answers best. On papers and manuals the
two differ: the binary judge scores a sentence restating the question ("After a file is deleted, GFS does
not immediately reclaim the available physical storage.") about as high as the one answering it, and what
decides is which of the two comes first in one list.

This stage builds those lists the way the answer step does: the documents of a folder of written
questions (``questions.jsonl`` and ``docs/``, the format ``data.py`` reads) ingested into a scratch store,
each answerable question run through CiteGraph's retrieval and shortlist, the sentences holding its
answer marked. The answer head is then trained with a softmax over each list: the loss is minus the log of
the share the answering sentences get, on the score the answer step ranks by (the judge's logit and the
bi-encoder closeness, weighted by the judge's ``stack["answer"]``). A question whose answer was retrieved
but not shortlisted has its first answering sentence put in the list's last place: the head still learns
to prefer it. The scale of the scores moves with such a loss, so the judge is recalibrated afterwards
(``citegraph train judge --recalibrate``, on the held-out examples of the stage before).

A softmax only orders a list: it leaves a question with no answer free to get a confident best sentence
too, and the shared layers free to drift away from what the other heads (the short answer's span,
answerable, support) and the abstention gate learned. So each list gets one more slot, "no answer", at a
calibrated logit of 0 (an even chance): the unanswerable written questions' lists (built the same way)
have that slot as their target, and the answering sentences must beat it. And with ``rehearsal`` (the
training sets of the stage before) each step also takes one batch of that stage's examples, for one head
drawn by its mix, and adds its loss: the lists decide the order, the slot and the examples keep the scale.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from citegraph.models.judge.data import Collection, build_examples, json_lines
from citegraph.models.judge.judge import Judge, answer_pair, load_tokenizer
from citegraph.models.judge.model import load_judge, save_judge
from citegraph.models.judge.train import LOG_FILE, PLOT_FILE, HeadBatches, JudgeTraining, loss_on
from citegraph.models.training import TrainProgress, save_loss_plot

QUESTIONS_FILE = "questions.jsonl"
DOCS_FOLDER = "docs"
# Steps of linear warm-up before the learning rate decays linearly to 0.
WARMUP_STEPS = 30


@dataclass
class Shortlist:
    """The sentences the answer step shortlisted for one question, and which of them hold its answer."""

    question: str
    sentences: list[str]
    previous: list[str]
    closeness: list[float]
    answers: list[bool]
    unanswerable: bool = False


def squeezed(text: str) -> str:
    """Lower case, spacing folded, ligatures undone: how quotes and sentences are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def holds_answer(row: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a sentence holds the answer of the written question ``row``: its short answer, or (for a
    sentence of more than 20 characters) the quoted sentence or a part of it, where the answer step cut
    the quote into sentences differently."""
    short, quote = squeezed(row.get("short", "")), squeezed(row.get("sentence", ""))

    def holds(sentence: str) -> bool:
        text = squeezed(sentence)
        return bool(short and short in text) or (len(text) > 20 and (text in quote or quote in text))

    return holds


def shortlists(folder: Path) -> list[Shortlist]:
    """The answer step's shortlist for each answerable question of ``folder/questions.jsonl``, over a
    scratch store of ``folder/docs`` (in file order; questions with no shortlist are left out)."""
    from citegraph.agents import answerer
    from citegraph.context import RagContext
    from citegraph.graphs.retrieval import graph
    from citegraph.ingest.pipeline import ingest_paths
    from citegraph.models.judge.judge import judge_for
    from citegraph.resources import pipeline_for
    from citegraph.retrieval.store import HybridStore
    from citegraph.settings import Settings

    questions, docs = folder / QUESTIONS_FILE, folder / DOCS_FOLDER
    if not questions.is_file() or not docs.is_dir():
        raise FileNotFoundError(
            f"{folder} needs {QUESTIONS_FILE} and a {DOCS_FOLDER}/ folder of its documents"
        )
    rows = list(json_lines(questions))
    found: list[Shortlist] = []
    with tempfile.TemporaryDirectory(prefix="citegraph-shortlists-") as scratch:
        settings = Settings(store_dir=Path(scratch) / "store")
        ingesting = HybridStore(settings)
        try:
            report = ingest_paths(ingesting, [docs], settings)
        finally:
            ingesting.close()  # the answer step reads the store through its own pipeline, below
        if not report.ok:
            raise ValueError(f"could not ingest {docs}: {report.failed[0].path}: {report.failed[0].reason}")
        context = RagContext(strategy="extract", store_dir=str(settings.store_dir))
        store = pipeline_for(context).store
        judge = judge_for(context)
        for row in rows:
            state = graph.invoke({"question": row["question"]}, context=context)
            question = state.get("search_question") or row["question"]
            closest = answerer.closest_candidates(question, state["hits"], judge, store)
            chosen = answerer.shortlist(question, closest, answerer.weighted_terms(question, store))
            if not chosen:
                continue
            unanswerable = bool(row.get("unanswerable"))
            holds = holds_answer(row) if not unanswerable else lambda _: False
            if not unanswerable and not any(holds(c.text) for c in chosen):
                missed = [c for c in closest if c not in chosen and holds(c.text)][:1]
                chosen = chosen[:-1] + missed if missed else chosen
            found.append(
                Shortlist(
                    question,
                    [c.text for c in chosen],
                    [c.previous for c in chosen],
                    [c.score for c in chosen],
                    [holds(c.text) for c in chosen],
                    unanswerable,
                )
            )
    return found


def listwise_loss(
    scores: torch.Tensor, sizes: list[int], answers: torch.Tensor, unanswerable: list[bool]
) -> torch.Tensor:
    """Mean over the lists (``sizes`` consecutive ``scores`` each, calibrated logits) of minus the log of
    the softmax share their answer gets, where each list has one more slot, "no answer", scored 0 (an even
    chance): the answering sentences' share (``answers``), or that slot's for an ``unanswerable`` list."""
    losses = []
    for part, held, none in zip(
        torch.split(scores, sizes), torch.split(answers, sizes), unanswerable, strict=True
    ):
        part = torch.cat([part, part.new_zeros(1)])
        held = torch.cat([held, held.new_tensor([none])])
        losses.append(torch.logsumexp(part, 0) - torch.logsumexp(part[held], 0))
    return sum(losses) / len(losses)


def train_listwise(
    folder: Path,
    out: Path,
    settings: JudgeTraining,
    rehearsal: Collection | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Go on training the judge of ``settings.init`` listwise on the shortlists of ``folder`` (those of
    its unanswerable questions, and those holding both an answering sentence and another),
    ``settings.batch_size`` lists a step, plus a batch of ``rehearsal``'s training examples a step when
    given; save it in ``out`` with ``log.json`` and ``loss.png``."""
    if settings.init is None:
        raise ValueError("the listwise stage goes on from a trained judge: give --init")
    started = time.perf_counter()
    rng = random.Random(settings.seed)
    # The held-out share of the rehearsal sets stays out: --recalibrate fits on it afterwards. Two
    # examples a list: 8 lists a step (about 64 sentences) rehearse stage 2's own batch of 16. Read
    # before the shortlists, which take minutes, so that an empty folder is refused at once.
    rehearsed = (
        HeadBatches(build_examples(rehearsal, settings.seed)[0], settings.mix, settings.batch_size * 2, rng)
        if rehearsal is not None
        else None
    )
    if rehearsed is not None and not rehearsed.heads:
        raise ValueError("no training examples to rehearse: the folder holds no recognised training set")
    lists = [s for s in shortlists(folder) if s.unanswerable or (any(s.answers) and not all(s.answers))]
    if len(lists) < settings.batch_size:
        raise ValueError(f"{len(lists)} shortlists to learn from in {folder}: too few to train on")
    torch.manual_seed(settings.seed)
    model = load_judge(settings.init, settings.base)
    judge = Judge(model, load_tokenizer(), bf16=False)
    logit_weight, closeness_weight, bias = model.config.stack.get("answer", (1.0, 0.0, 0.0))
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS) * max(0.0, 1 - s / settings.steps)
    )
    history: dict[str, list] = {"train": [], "eval": []}
    progress = TrainProgress(verbose, settings.steps, label="judge (listwise)")
    what = "listwise loss" if rehearsed is None else "listwise + rehearsal loss"
    for step in range(settings.steps):
        batch = rng.sample(lists, settings.batch_size)
        pairs = [
            answer_pair(s.question, t, p) for s in batch for t, p in zip(s.sentences, s.previous, strict=True)
        ]
        encoding = judge.encode("answer", pairs)
        logit, _ = model(
            "answer", encoding["input_ids"], encoding["attention_mask"], encoding["token_type_ids"]
        )
        closeness = torch.tensor([c for s in batch for c in s.closeness])
        answers = torch.tensor([a for s in batch for a in s.answers], dtype=torch.bool)
        loss = listwise_loss(
            logit_weight * logit + closeness_weight * closeness + bias,
            [len(s.sentences) for s in batch],
            answers,
            [s.unanswerable for s in batch],
        )
        if rehearsed is not None:
            head, examples = rehearsed.next()
            loss = loss + loss_on(model, judge, head, examples, settings.span_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        history["train"].append((step, loss.item(), "answer"))
        progress.step(step + 1, loss.item())
        if (step + 1) % 100 == 0:
            recent = [value for _, value, _ in history["train"][-100:]]
            progress.note(f"step {step + 1}: {what} {sum(recent) / 100:.3f} (mean of the last 100)")
    progress.close()
    model.eval()
    result = {
        "settings": {**asdict(settings), "base": str(settings.base or "bundled all-MiniLM-L6-v2")}
        | {"init": str(settings.init), "listwise": str(folder)},
        "config": asdict(model.config),
        "data": {"shortlists": len(lists), "questions": str(folder / QUESTIONS_FILE)}
        | (rehearsal.counts() if rehearsal is not None else {}),
        "examples": {"answer": (sum(len(s.sentences) for s in lists), 0)},
        "rehearsed": {h: len(e) for h, e in rehearsed.by_head.items()} if rehearsed is not None else {},
        "held_out": {},
        "seconds": round(time.perf_counter() - started, 1),
        "history": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_judge(model, out)
    (out / LOG_FILE).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    save_loss_plot(history, out / PLOT_FILE, "judge, listwise stage: training loss", what)
    return result
