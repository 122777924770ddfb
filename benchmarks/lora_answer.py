"""Does the LoRA ``answer`` adapter make SmolLM2-135M-Instruct a better cited answerer? Base vs adapted on the
held-out XQuAD paragraphs, plus training time, trainable share and the memory cost of three adapters.

    python benchmarks/lora_answer.py --json benchmarks/results/lora_answer.json --limit 50 \
        [--adapter DIR] [--train-limit 260]

Without ``--adapter`` it first builds the SFT data (``citegraph train lora-data``'s code) and trains the
adapter; with ``--adapter DIR`` it evaluates that one (``train_s``/``trainable_share`` then come from the
``train_summary.json`` beside it).

The lead's ``citegraph eval qa`` was not in the tree when this was written, so the ``eval qa`` keys are
computed here, on the same prompt the rag graph's generate strategy sends (``answer_messages``):
each held-out question gets its gold passage (answer sentence + neighbours) and a passage of another
paragraph as sources [1]/[2] in random order, or (15%) two other paragraphs' passages (unanswerable). There
is no retrieval step, so ``hit_rate`` is the share of answerable questions whose answer cites the gold source.

* ``verified_share``: answerable questions answered (no abstention) with every sentence passing the Verifier.
* ``citation_precision``: cited sentences (all answers that do not abstain) the Verifier finds supported.
* ``f1`` / ``answer_recall``: SQuAD token F1 (best gold) and gold-answer-contained, on answerable questions.
* ``abstain_unanswerable`` / ``abstain_answerable``: how often each kind gets "The documents do not say."
* ``p50_ms`` / ``p95_ms``: wall time of one chat-model call (greedy, max 64 new tokens).
Memory: peak RSS (ru_maxrss) and final RSS of a fresh process that loads the base and generates, vs one
that loads the base plus three adapters (``answer`` and two more of the same shape) and generates with each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save

XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad" / "xquad.en.json"
MAX_NEW_TOKENS = 64


def normalize_answer(text: str) -> list[str]:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces; as tokens."""
    text = re.sub(r"\[\d+\]", " ", text.lower())
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def evaluate(chat_model: Any, items: list[Any], verifier: Any, strategy: str) -> dict[str, Any]:
    """The eval qa keys for one chat model on ``items`` (see the module docstring)."""
    from citegraph.answers import markers, says_documents_do_not_answer

    latencies, f1s, recalls, hits, verified = [], [], [], [], []
    abstain_answerable, abstain_unanswerable = [], []
    cited_sentences = supported_sentences = 0
    examples = []
    for item in items:
        started = time.perf_counter()
        reply = " ".join(str(chat_model.invoke(item.messages()).content).split())
        latencies.append((time.perf_counter() - started) * 1000)
        abstained = says_documents_do_not_answer(reply)
        sources = {s["n"]: s["text"] for s in item.sources}
        check = None if abstained else verifier.verify(reply, sources)
        if check is not None:
            cited = [c for c in check.checks if c.markers]
            cited_sentences += len(cited)
            supported_sentences += sum(c.supported for c in cited)
        if item.answerable:
            gold_n = next(s["n"] for s in item.sources if any(g in s["text"] for g in item.golds))
            abstain_answerable.append(abstained)
            f1s.append(0.0 if abstained else max(token_f1(reply, g) for g in item.golds))
            recalls.append(
                not abstained
                and any(
                    " ".join(normalize_answer(g)) in " ".join(normalize_answer(reply)) for g in item.golds
                )
            )
            hits.append(not abstained and gold_n in markers(reply))
            verified.append(check is not None and check.verified)
        else:
            abstain_unanswerable.append(abstained)
        if len(examples) < 8:
            examples.append(
                {
                    "question": item.question,
                    "golds": list(item.golds),
                    "reply": reply,
                    "verified": bool(check and check.verified),
                }
            )

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "dataset": "xquad.en held-out paragraphs",
        "questions": len(items),
        "answerable": len(f1s),
        "strategy": strategy,
        "hit_rate": share(hits),
        "answer_recall": share(recalls),
        "f1": round(statistics.mean(f1s), 4) if f1s else None,
        "citation_precision": round(supported_sentences / cited_sentences, 4) if cited_sentences else None,
        "cited_sentences": cited_sentences,
        "verified_share": share(verified),
        "abstain_unanswerable": share(abstain_unanswerable),
        "abstain_answerable": share(abstain_answerable),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(sorted(latencies)[max(round(0.95 * len(latencies)) - 1, 0)], 1),
        "examples": examples,
    }


# -- memory (each figure from a fresh process) ------------------------------------------------------------

_RSS_SCRIPT = """
import json, resource, sys
from citegraph.agents.prompts import Source, answer_messages
mode, base, adapters = sys.argv[1], sys.argv[2], sys.argv[3:]
messages = answer_messages("Who?", [Source(n=1, source="a", location="b", text="Irene Adler sang.")])
if mode in ("base", "base_with_peft"):
    if mode == "base_with_peft":
        import peft  # what importing PEFT (and the bitsandbytes it pulls in) costs, without any adapter
    from citegraph.models.hf import chat_model_from, load_causal_lm
    model, tokenizer = load_causal_lm(base)
    chat_model_from(model, tokenizer, "base", max_new_tokens=8).invoke(messages)
else:
    from citegraph.models.lora import load_lora_chat_model
    for name in [a.rstrip("/").split("/")[-1] for a in adapters]:
        spec = base + "+" + ",".join(adapters) + "@" + name
        load_lora_chat_model(spec, max_new_tokens=8).invoke(messages)
import psutil
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "now_mb": psutil.Process().memory_info().rss / 2**20}))
"""

_EXTRA_ADAPTERS_SCRIPT = """
import json, sys
from pathlib import Path
from peft import get_peft_model
from citegraph.models.lora.loading import load_base, write_base_fingerprint
base, answer, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
config = json.loads((answer / "adapter_config.json").read_text())
from peft import LoraConfig
loaded = load_base(base)
lora = LoraConfig(task_type="CAUSAL_LM", r=config["r"], lora_alpha=config["lora_alpha"],
                  target_modules=sorted(config["target_modules"]))
model = get_peft_model(loaded.model, lora, adapter_name="multi_query")
model.add_adapter("planner", lora)
model.save_pretrained(str(out), selected_adapters=["multi_query", "planner"])
for name in ("multi_query", "planner"):
    write_base_fingerprint(out / name, model.get_base_model(), loaded.location)
"""


def rss(mode: str, base: str, adapters: list[str]) -> dict[str, float]:
    """Peak and final RSS (MB) of a fresh process that loads ``mode`` and generates a few tokens."""
    from citegraph.settings import OFFLINE_ENV

    env = {**os.environ, **OFFLINE_ENV}  # the child sets them on importing citegraph; this is belt and braces
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, mode, base, *adapters],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {k: round(v, 1) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def memory(base: str, answer: Path, scratch: Path) -> dict[str, Any]:
    """Peak RSS of the base alone and with three adapters (the two extra ones are untrained, same shape)."""
    subprocess.run(
        [sys.executable, "-c", _EXTRA_ADAPTERS_SCRIPT, base, str(answer), str(scratch)],
        check=True,
        capture_output=True,
    )
    adapters = [str(answer), str(scratch / "multi_query"), str(scratch / "planner")]
    alone, three = rss("base", base, []), rss("three", base, adapters)
    with_peft = rss("base_with_peft", base, [])
    size = sum(f.stat().st_size for f in answer.glob("adapter_model.*")) / 1e6
    return {
        "rss_base_mb": alone["peak_mb"],
        "rss_three_adapters_mb": three["peak_mb"],
        "rss_adapters_overhead": round(three["peak_mb"] / alone["peak_mb"] - 1, 4),
        # Loading peaks above the steady state, which can hide what adapters add: the final RSS too.
        "rss_final_base_mb": alone["now_mb"],
        "rss_final_three_adapters_mb": three["now_mb"],
        "rss_final_overhead": round(three["now_mb"] / alone["now_mb"] - 1, 4),
        "rss_final_base_with_peft_import_mb": with_peft["now_mb"],
        "rss_final_overhead_vs_peft_import": round(three["now_mb"] / with_peft["now_mb"] - 1, 4),
        "adapter_size_mb": round(size, 2),
    }


def train(base: str, out: Path, train_limit: int, seed: int) -> Path:
    """Build the SFT data from the XQuAD train split and train the ``answer`` adapter (CLI defaults)."""
    from citegraph.models.lora.data import read_squad, split_paragraphs, squad_items, write_jsonl
    from citegraph.models.lora.train import LoraTrainConfig, train_lora

    train_paragraphs, _ = split_paragraphs(read_squad(XQUAD), seed=seed)
    data = out / "sft_train.jsonl"
    write_jsonl((i.record() for i in squad_items(train_paragraphs, seed, limit=train_limit)), data)
    train_lora(
        LoraTrainConfig(
            base=base,
            data=str(data),
            adapter="answer",
            out=str(out),
            lr=6e-4,
            max_length=256,
            checkpoint_every=10,
            seed=seed,
        )
    )
    return out / "answer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--limit", type=int, default=50, help="held-out questions to score")
    parser.add_argument(
        "--adapter", type=Path, help="evaluate this adapter directory instead of training one"
    )
    parser.add_argument("--base", default="smollm2")
    parser.add_argument(
        "--train-limit", type=int, default=260, help="SFT examples to build (before the length cap)"
    )
    parser.add_argument("--out", type=Path, help="training run directory (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from citegraph.settings import force_offline

    force_offline()
    from citegraph.agents.verifier import Verifier
    from citegraph.models.hf import chat_model_from, load_causal_lm
    from citegraph.models.judge.judge import judge_at
    from citegraph.models.lora import load_lora_chat_model
    from citegraph.models.lora.data import read_squad, split_paragraphs, squad_items

    adapter = args.adapter
    if adapter is None:
        out = args.out or Path(tempfile.mkdtemp(prefix="lora_answer_"))
        adapter = train(args.base, out, args.train_limit, args.seed)
    summary_path = adapter.parent / "train_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}

    _, held = split_paragraphs(read_squad(XQUAD), seed=args.seed)
    items = squad_items(held, seed=args.seed)[: args.limit]
    verifier = Verifier(judge_at())
    model, tokenizer = load_causal_lm(args.base)
    base_model = chat_model_from(model, tokenizer, "smollm2", max_new_tokens=MAX_NEW_TOKENS)
    adapted_model = load_lora_chat_model(f"{args.base}+{adapter}", max_new_tokens=MAX_NEW_TOKENS)
    result: dict[str, Any] = {
        "base": evaluate(base_model, items, verifier, f"generate hf:{args.base}"),
        "adapted": evaluate(adapted_model, items, verifier, f"generate lora:{args.base}+{adapter}"),
    }
    with tempfile.TemporaryDirectory(prefix="lora_rss_") as scratch:
        result.update(memory(args.base, adapter, Path(scratch)))
    config = summary.get("config", {})
    result.update(
        {
            "train_s": summary.get("train_s"),
            "trainable_share": summary.get("trainable_share"),
            "trainable_params": summary.get("trainable_params"),
            "train": {
                k: summary.get(k)
                for k in (
                    "steps",
                    "examples",
                    "eval_examples",
                    "dropped_too_long",
                    "final_loss",
                    "eval_loss",
                    "tokens_per_s",
                )
            }
            | {
                k: config.get(k)
                for k in (
                    "r",
                    "alpha",
                    "dropout",
                    "target_modules",
                    "lr",
                    "batch_size",
                    "epochs",
                    "max_length",
                    "dtype",
                )
            },
            "adapter": str(adapter),
            "max_new_tokens": MAX_NEW_TOKENS,
            "torch_threads": torch.get_num_threads(),
            "machine": machine(),
        }
    )
    save(result, args.json)


if __name__ == "__main__":
    main()
