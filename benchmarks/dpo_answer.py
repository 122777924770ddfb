"""Does preference tuning from the verifier's verdicts (``citegraph train dpo``) make the answer adapter's
drafts verify more often? The base, the SFT adapter and the DPO adapter side by side, in one run, on the
held-out XQuAD paragraphs (never drafted from, never trained on).

    python benchmarks/dpo_answer.py --sft examples/adapters/answer --dpo examples/adapters/answer-dpo \
        --json benchmarks/results/dpo_answer.json [--limit 200] [--transformers-limit 60]

Each model answers the same questions with the same prompt as ``benchmarks/lora_answer.py`` (and its
metrics: verified share, citation precision, abstention, F1, p50/p95 of one call; greedy, 64 new tokens),
through llama.cpp (``gguf:smollm2[+adapter]``). ``--transformers-limit`` also scores the first N questions
with the two adapters in PEFT/transformers (``lora:``), where DPO trained them, to show the gain is not an
artefact of the runtime. ``--development`` scores the training-split questions ``citegraph train dpo``
never drafts (``dpo.DEVELOPMENT``) instead: the set DPO settings are chosen on, so that the held-out
questions are scored once, for the chosen adapter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, save
from lora_answer import MAX_NEW_TOKENS, XQUAD, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sft", type=Path, required=True, help="the adapter DPO started from")
    parser.add_argument("--dpo", type=Path, required=True, help="the DPO adapter")
    parser.add_argument("--base", default="smollm2")
    parser.add_argument("--limit", type=int, default=200, help="held-out questions (llama.cpp)")
    parser.add_argument("--transformers-limit", type=int, default=0, help="of those, scored in PEFT too")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (as for the SFT)")
    parser.add_argument(
        "--development", action="store_true", help="score the training questions DPO never drafts"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from citegraph.settings import force_offline

    force_offline()
    from citegraph.agents.verifier import Verifier
    from citegraph.models.judge.judge import judge_at
    from citegraph.models.llamacpp import load_gguf_chat_model
    from citegraph.models.lora import load_lora_chat_model
    from citegraph.models.lora.data import read_squad, split_paragraphs, squad_items
    from citegraph.models.lora.dpo import DEVELOPMENT, draftable_items

    train, held = split_paragraphs(read_squad(XQUAD), seed=args.seed)
    if args.development:
        items = draftable_items(train, args.base, args.seed)[DEVELOPMENT][: args.limit]
    else:
        items = squad_items(held, seed=args.seed)[: args.limit]
    verifier = Verifier(judge_at())
    split = (
        f"xquad.en training paragraphs, draftable questions {DEVELOPMENT.start}-{DEVELOPMENT.stop - 1}"
        if args.development
        else "xquad.en held-out paragraphs"
    )
    result: dict[str, Any] = {"split": split, "questions": len(items)}
    for key, location in (
        ("base", args.base),
        ("sft", f"{args.base}+{args.sft}"),
        ("dpo", f"{args.base}+{args.dpo}"),
    ):
        model = load_gguf_chat_model(location, max_tokens=MAX_NEW_TOKENS)
        result[key] = evaluate(model, items, verifier, f"generate gguf:{location}") | {"dataset": split}
        print(key, {k: v for k, v in result[key].items() if k != "examples"}, flush=True)
    if args.transformers_limit:
        first = items[: args.transformers_limit]
        for key, adapter in (("sft_peft", args.sft), ("dpo_peft", args.dpo)):
            model = load_lora_chat_model(f"{args.base}+{adapter}", max_new_tokens=MAX_NEW_TOKENS)
            result[key] = evaluate(model, first, verifier, f"generate lora:{args.base}+{adapter}") | {
                "dataset": split
            }
            print(key, {k: v for k, v in result[key].items() if k != "examples"}, flush=True)
    for metric in ("verified_share", "citation_precision", "abstain_unanswerable", "abstain_answerable"):
        before, after = result["sft"][metric], result["dpo"][metric]
        if before is not None and after is not None:
            result.setdefault("dpo_minus_sft", {})[metric] = round(after - before, 4)
    result["machine"] = machine()
    save(result, args.json)


if __name__ == "__main__":
    main()
