"""Preference tuning of an answer adapter from the verifier's verdicts: DPO with trl, on CPU.

1. :func:`draft_pairs`: the adapter drafts answers to questions of its own training split (one greedy draft
   and ``samples - 1`` sampled ones; when the greedy draft and those samples are all rejected, up to
   ``rescue`` more samples until one is accepted), and each draft gets a verdict: **accepted** when the
   Verifier finds every sentence supported by the source it cites, or when it abstains ("The documents do
   not say.") on a question whose sources hold no answer; **rejected** when a sentence is unsupported, when
   it abstains although a source answers, or when it answers a question its sources do not answer. A
   question with both kinds of drafts gives (prompt, accepted, rejected) pairs; a question the adapter
   always gets right, or always wrong, teaches nothing about the difference and gives none.
2. :func:`train_dpo`: trl's ``DPOTrainer`` continues the adapter on the pairs against a frozen copy of
   itself (the reference; trl adds it as a second adapter, so the base is loaded once) and saves the new
   adapter beside a summary and the trainer's log.

Drafting uses any chat model; the CLI drafts through llama.cpp (``gguf:<base>+<adapter>``: the same adapter
on the quantized base, ~5x faster than PEFT in transformers here), so thousands of drafts take minutes.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from citegraph.answers import says_documents_do_not_answer
from citegraph.models.lora.data import QAItem, messages_as_dicts, squad_items

ANSWER_TOKENS = 64  # new tokens of a draft: a cited answer clause or the abstention fits (as in eval)
# Draftable training questions that are never drafted: the development set DPO settings are chosen on
# (``benchmarks/dpo_answer.py --development``), so that the held-out questions are scored once.
DEVELOPMENT = slice(450, 600)


def draftable_items(paragraphs: Any, base: str, seed: int, max_length: int = 384) -> list[Any]:
    """The questions of ``paragraphs`` (``squad_items``, in order) whose prompt leaves room in
    ``max_length`` tokens of ``base``'s tokenizer for a draft of ``ANSWER_TOKENS``."""
    from transformers import AutoTokenizer

    from citegraph.models.lora.loading import base_directory

    tokenizer = AutoTokenizer.from_pretrained(str(base_directory(base)))

    def prompt_tokens(item: Any) -> int:
        text = tokenizer.apply_chat_template(
            messages_as_dicts(item.messages()), tokenize=False, add_generation_prompt=True
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return [
        item for item in squad_items(paragraphs, seed) if prompt_tokens(item) <= max_length - ANSWER_TOKENS
    ]


def drafting_items(draftable: Sequence[Any], questions: int) -> list[Any]:
    """The first ``questions`` of the ``draftable`` training questions, skipping the development ones."""
    return [*draftable[: DEVELOPMENT.start], *draftable[DEVELOPMENT.stop :]][:questions]


def verdict(reply: str, item: QAItem, verifier: Any) -> tuple[bool, str]:
    """(accepted, why) for one draft of ``item`` (see the module docstring)."""
    abstained = says_documents_do_not_answer(reply)
    if not item.answerable:
        return abstained, "abstained" if abstained else "answered a question its sources do not answer"
    if abstained:
        return False, "abstained although a source answers"
    check = verifier.verify(reply, {s["n"]: s["text"] for s in item.sources})
    return check.verified, "verified" if check.verified else "a sentence is not supported by its source"


def judged_drafts(
    chat_model: Any,
    item: QAItem,
    verifier: Any,
    samples: int,
    temperature: float,
    seed: int,
    rescue: int = 0,
) -> tuple[str, list[tuple[str, bool, str]]]:
    """The greedy draft of ``item``, and its distinct drafts with their verdicts: greedy first, then
    ``samples - 1`` sampled at ``temperature``; when the greedy draft is rejected and no sample is
    accepted, up to ``rescue`` more samples until one is. Those rescued pairs are the ones that change what
    the adapter writes: a pair whose rejected draft greedy decoding never produces moves little of what
    users see."""
    messages = item.messages()
    judged: dict[str, tuple[bool, str]] = {}

    def draft(temperature: float, seed: int | None = None) -> str:
        extra = {} if seed is None else {"seed": seed}
        text = " ".join(str(chat_model.invoke(messages, temperature=temperature, **extra).content).split())
        if text and text not in judged:
            judged[text] = verdict(text, item, verifier)
        return text

    greedy = draft(0.0)
    greedy_accepted = judged.get(greedy, (False, ""))[0]
    for k in range(1, samples + rescue):
        if k >= samples and (greedy_accepted or any(ok for ok, _ in judged.values())):
            break
        draft(temperature, seed + k)
    return greedy, [(text, ok, why) for text, (ok, why) in judged.items()]


def draft_pairs(
    chat_model: Any,
    items: Sequence[QAItem],
    verifier: Any,
    samples: int = 3,
    temperature: float = 0.9,
    pairs_per_question: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    rescue: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(preference records in trl's conversational format, counts of what the drafts were). Each record's
    ``meta`` says whether its rejected draft is the greedy one (``greedy_rejected``)."""
    records: list[dict[str, Any]] = []
    counts = {
        "questions": 0,
        "drafts": 0,
        "accepted": 0,
        "rejected": 0,
        "mixed_questions": 0,
        "greedy_rejected_pairs": 0,
    }
    reasons: dict[str, int] = {}
    for number, item in enumerate(items):
        greedy, judged = judged_drafts(
            chat_model, item, verifier, samples, temperature, seed + 1000 * number, rescue
        )
        accepted = [d for d, ok, _ in judged if ok]
        rejected = [d for d, ok, _ in judged if not ok]
        for *_, why in judged:
            reasons[why] = reasons.get(why, 0) + 1
        counts["questions"] += 1
        counts["drafts"] += len(judged)
        counts["accepted"] += len(accepted)
        counts["rejected"] += len(rejected)
        if accepted and rejected:
            counts["mixed_questions"] += 1
            prompt = messages_as_dicts(item.messages())
            for k, bad in enumerate(rejected[:pairs_per_question]):
                records.append(
                    {
                        "prompt": prompt,
                        "chosen": [{"role": "assistant", "content": accepted[k % len(accepted)]}],
                        "rejected": [{"role": "assistant", "content": bad}],
                        "meta": {
                            "question": item.question,
                            "answerable": item.answerable,
                            "greedy_rejected": bad == greedy,
                        },
                    }
                )
                counts["greedy_rejected_pairs"] += bad == greedy
        if progress is not None:
            progress(number + 1, len(records))
    return records, {**counts, "pairs": len(records), "verdicts": reasons}


@dataclass
class DpoTrainConfig:
    """What ``citegraph train dpo`` trains: the adapter it starts from (also the frozen reference), the
    pairs, and trl's DPO settings."""

    adapter: str
    pairs: str
    out: str
    name: str = "answer-dpo"
    base: str = "smollm2"
    beta: float = 0.1
    lr: float = 5e-5
    epochs: float = 1.0
    batch_size: int = 4
    max_length: int = 384
    seed: int = 0
    progress: bool = True


def read_pairs(path: Path) -> list[dict[str, Any]]:
    """Preference records of a JSON-lines file (each with ``prompt``, ``chosen`` and ``rejected``)."""
    if not path.is_file():
        raise FileNotFoundError(f"preference pairs file does not exist: {path}")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, record in enumerate(records, 1):
        if not all(key in record for key in ("prompt", "chosen", "rejected")):
            raise ValueError(f"{path}:{number}: a pair needs prompt, chosen and rejected")
    if not records:
        raise ValueError(f"{path} holds no preference pairs")
    return records


def train_dpo(cfg: DpoTrainConfig) -> dict[str, Any]:
    """DPO on the pairs from ``cfg.adapter``; the adapter is saved in ``out/<name>``, the summary in
    ``out/dpo_summary.json`` and trl's log in ``out/dpo_log.jsonl``."""
    import torch
    from datasets import Dataset
    from peft import PeftModel
    from trl import DPOConfig, DPOTrainer

    from citegraph.models.lora.loading import check_adapter_matches, load_base, write_base_fingerprint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    records = read_pairs(Path(cfg.pairs))
    torch.manual_seed(cfg.seed)
    base = load_base(cfg.base, for_training=True)
    check_adapter_matches(Path(cfg.adapter), base.model)
    model = PeftModel.from_pretrained(base.model, cfg.adapter, is_trainable=True)
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in records])
    args = DPOConfig(
        output_dir=str(out / "trainer"),
        use_cpu=True,
        bf16=False,
        beta=cfg.beta,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,  # a share of the steps (transformers 5)
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        seed=cfg.seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=not cfg.progress,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=base.tokenizer)
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    adapter_dir = out / cfg.name
    shutil.rmtree(adapter_dir, ignore_errors=True)  # a rerun into the same folder replaces the adapter
    # Only the trained adapter: trl's frozen "ref" copy is the starting adapter, already saved elsewhere.
    model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
    write_base_fingerprint(adapter_dir, model.get_base_model(), base.location)
    log = [entry for entry in trainer.state.log_history if "loss" in entry]
    (out / "dpo_log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in trainer.state.log_history))
    summary = {
        "adapter_dir": str(adapter_dir),
        "started_from": cfg.adapter,
        "pairs": len(records),
        "steps": trainer.state.global_step,
        "train_s": round(train_s, 1),
        "first": log[0] if log else None,
        "last": log[-1] if log else None,
        "config": asdict(cfg),
    }
    (out / "dpo_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
