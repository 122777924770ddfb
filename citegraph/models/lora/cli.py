"""The LoRA commands: ``citegraph train lora``, ``citegraph train lora-data``, ``citegraph train lora-merge``,
``citegraph train lora-plan-data``, ``citegraph train lora-planner`` (a planner adapter in one command) and
``citegraph train dpo`` (an answer adapter preference-tuned from the verifier's verdicts).

Only typer is imported at module level: ``citegraph --help`` must not pay for importing torch or PEFT.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _run_or_fail(run: Callable[[Any], dict[str, Any]], cfg: Any) -> dict[str, Any]:
    """``run(cfg)``, with the errors a user can fix (missing model, no CUDA, wrong adapter, bad path or
    value) turned into one clear line."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.lora.loading import AdapterMismatchError, CudaRequiredError

    try:
        return run(cfg)
    except (
        ModelNotFoundError,
        CudaRequiredError,
        AdapterMismatchError,
        FileNotFoundError,
        ValueError,
    ) as error:
        raise _fail(str(error)) from None


def train_lora_data(
    out: Annotated[Path, typer.Option("--out", help="SFT JSON-lines file to write.")],
    squad: Annotated[
        Path | None,
        typer.Option("--squad", help="SQuAD-format JSON (e.g. xquad.en.json): use its train split."),
    ] = None,
    held_out_out: Annotated[
        Path | None, typer.Option("--held-out-out", help="Also write the held-out split's items here.")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions", help="One question per line, answered from your ingested store (--store)."
        ),
    ] = None,
    store: Annotated[Path | None, typer.Option("--store", help="Store directory for --questions.")] = None,
    held_out: Annotated[
        float, typer.Option(help="Share of SQuAD paragraphs held out (never trained on).")
    ] = 0.25,
    limit: Annotated[int | None, typer.Option(help="Keep at most this many training examples.")] = None,
    unanswerable_share: Annotated[
        float, typer.Option(help="Share of SQuAD examples shown only distractors (target: abstain).")
    ] = 0.15,
    top_k: Annotated[int, typer.Option(help="Passages shown per corpus question.")] = 3,
    seed: int = 0,
) -> None:
    """Build SFT examples in the answer prompt's format (question + numbered sources -> cited answer)."""
    from citegraph.models.lora.data import read_squad, split_paragraphs, squad_items, write_jsonl

    if squad is None and questions is None:
        raise _fail("give --squad FILE and/or --questions FILE (with --store)")
    records = []
    counts: dict[str, int] = {}
    if squad is not None:
        if not squad.is_file():
            raise _fail(f"SQuAD file does not exist: {squad}")
        train, held = split_paragraphs(read_squad(squad), held_out, seed)
        items = squad_items(train, seed, unanswerable_share, limit)
        records += [item.record() for item in items]
        counts["squad_train"] = len(items)
        if held_out_out is not None:
            held_items = squad_items(held, seed, unanswerable_share)
            counts["squad_held_out"] = write_jsonl((i.record() for i in held_items), held_out_out)
    if questions is not None:
        if not questions.is_file():
            raise _fail(f"questions file does not exist: {questions}")
        from citegraph.agents.verifier import Verifier
        from citegraph.models.judge.judge import judge_for_settings
        from citegraph.resources import get_resources
        from citegraph.retrieval.pipeline import RetrievalPipeline
        from citegraph.settings import Settings

        resources = get_resources(Settings(store_dir=store) if store else Settings())
        pipeline = RetrievalPipeline(resources.store, resources.settings)
        from citegraph.models.lora.data import corpus_items

        lines = questions.read_text(encoding="utf-8").splitlines()
        verifier = Verifier(judge_for_settings(resources.settings))
        items = corpus_items(lines, pipeline, verifier, top_k)
        records += [item.record() for item in items]
        counts["corpus"] = len(items)
    counts["written"] = write_jsonl(records[:limit] if limit else records, out)
    print(json.dumps(counts))


def train_lora(
    base: Annotated[str, typer.Option("--base", help="Base model: local dir, .gguf file, or smollm2.")],
    data: Annotated[Path, typer.Option("--data", help="SFT JSON lines (citegraph train lora-data).")],
    adapter: Annotated[
        str, typer.Option("--adapter", help="Adapter name, e.g. answer, multi_query, planner.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Run directory; the adapter is saved in OUT/NAME.")],
    r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    alpha: Annotated[int, typer.Option(help="LoRA alpha (scale = alpha / r).")] = 32,
    dropout: float = 0.05,
    target: Annotated[
        str, typer.Option(help="Comma-separated modules, or 'attention' (q,k,v,o) or 'all' (+ MLP).")
    ] = "attention",
    epochs: float = 1.0,
    max_steps: Annotated[int, typer.Option(help=">0: stop after this many optimizer steps.")] = 0,
    batch_size: int = 4,
    grad_accum: int = 1,
    lr: float = 2e-4,
    warmup_ratio: float = 0.05,
    max_length: Annotated[int, typer.Option(help="Drop examples longer than this many tokens.")] = 320,
    eval_fraction: float = 0.05,
    eval_every: Annotated[int, typer.Option(help="Optimizer steps between eval losses; 0: at the end.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="Optimizer steps between resume checkpoints.")] = 0,
    gradient_checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing")] = False,
    dtype: Annotated[str, typer.Option(help="Base weights: float32, bfloat16 or float16.")] = "float32",
    load_in_4bit: Annotated[bool, typer.Option("--4bit", help="QLoRA: 4-bit NF4 base (needs CUDA).")] = False,
    seed: int = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a LoRA (or QLoRA) adapter; several GPUs: `accelerate launch -m citegraph.cli train lora ...`."""
    from citegraph.models.lora.train import ATTENTION_MODULES, MLP_MODULES, LoraTrainConfig
    from citegraph.models.lora.train import train_lora as run

    modules = {"attention": ATTENTION_MODULES, "all": ATTENTION_MODULES + MLP_MODULES}.get(
        target, [m.strip() for m in target.split(",") if m.strip()]
    )
    cfg = LoraTrainConfig(
        base=base,
        data=str(data),
        adapter=adapter,
        out=str(out),
        r=r,
        alpha=alpha,
        dropout=dropout,
        target_modules=modules,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        warmup_ratio=warmup_ratio,
        max_length=max_length,
        eval_fraction=eval_fraction,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        gradient_checkpointing=gradient_checkpointing,
        dtype=dtype,
        load_in_4bit=load_in_4bit,
        seed=seed,
        resume=resume,
        progress=not quiet,
    )
    summary = _run_or_fail(run, cfg)
    summary.pop("config", None)
    print(json.dumps(summary))


def train_lora_merge(
    base: Annotated[str, typer.Option("--base", help="The base the adapter was trained on.")],
    adapter: Annotated[Path, typer.Option("--adapter", help="Adapter directory (OUT/NAME of train lora).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the merged model (hf:OUT serves it).")],
) -> None:
    """Merge one adapter into the base and save a plain model for serving (no PEFT needed to load it)."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.lora.adapters import export_merged
    from citegraph.models.lora.loading import AdapterMismatchError

    try:
        export_merged(base, adapter, out)
    except (ModelNotFoundError, AdapterMismatchError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    print(json.dumps({"merged": str(out)}))


def train_lora_plan_data(
    out: Annotated[Path, typer.Option("--out", help="SFT JSON-lines file of the training split.")],
    held_out_out: Annotated[
        Path | None,
        typer.Option("--held-out-out", help="Also write the held-out split (routing-set rows) here."),
    ] = None,
    examples: Annotated[
        int,
        typer.Option(help="Training requests to synthesize (the clauses of the multi-step ones are added)."),
    ] = 900,
    held_out: Annotated[int, typer.Option(help="Held-out requests to synthesize.")] = 150,
    seed: Annotated[int, typer.Option(help="Seed of the training split.")] = 0,
    held_out_seed: Annotated[int, typer.Option(help="Seed of the held-out split (another bank too).")] = 1,
) -> None:
    """Synthesize planner SFT data: request -> the planner's JSON plan (see models/lora/plan_data.py)."""
    counts = _write_plan_data(out, held_out_out, examples, held_out, seed, held_out_seed)
    print(json.dumps(counts))


def _write_plan_data(
    out: Path, held_out_out: Path | None, examples: int, held_out: int, seed: int, held_out_seed: int
) -> dict[str, int]:
    from citegraph.agents.planner import tool_brief
    from citegraph.models.lora.data import write_jsonl
    from citegraph.models.lora.plan_data import check_items, clause_items, split_items
    from citegraph.tools import REGISTRY

    train, held = split_items(examples, held_out, seed, held_out_seed)
    clauses = clause_items(train)
    check_items([*train, *clauses, *held], REGISTRY)
    brief = tool_brief(REGISTRY)
    counts = {"train": write_jsonl((item.record(brief) for item in [*train, *clauses]), out)}
    counts["of_which_clauses"] = len(clauses)
    if held_out_out is not None:
        counts["held_out"] = write_jsonl((item.eval_row(n) for n, item in enumerate(held, 1)), held_out_out)
    return counts


def train_lora_planner(
    out: Annotated[Path, typer.Option("--out", help="Run directory; the adapter is saved in OUT/NAME.")],
    base: Annotated[str, typer.Option("--base", help="Base model: local dir, .gguf file, or smollm2.")] = (
        "smollm2"
    ),
    adapter: Annotated[str, typer.Option("--adapter", help="Adapter name (its directory name).")] = "planner",
    examples: Annotated[
        int,
        typer.Option(help="Training requests to synthesize (the clauses of the multi-step ones are added)."),
    ] = 900,
    seed: int = 0,
    r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    alpha: Annotated[int, typer.Option(help="LoRA alpha (scale = alpha / r).")] = 32,
    epochs: float = 1.0,
    max_steps: Annotated[int, typer.Option(help=">0: stop after this many optimizer steps.")] = 0,
    stop_after: Annotated[
        int, typer.Option(help=">0: checkpoint and stop after this many steps (go on with --resume).")
    ] = 0,
    batch_size: int = 8,
    lr: float = 1e-3,
    max_length: Annotated[int, typer.Option(help="Drop examples longer than this many tokens.")] = 192,
    checkpoint_every: Annotated[int, typer.Option(help="Optimizer steps between resume checkpoints.")] = 10,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a planner adapter in one command: synthesize OUT/plan_train.jsonl, train the LoRA adapter on
    it, and mark OUT/NAME as a plan adapter (the planner then uses it with `lora:BASE+OUT/NAME`)."""
    from citegraph.agents.planner import tool_brief
    from citegraph.models.lora.adapters import write_task_marker
    from citegraph.models.lora.train import LoraTrainConfig
    from citegraph.models.lora.train import train_lora as run
    from citegraph.tools import REGISTRY

    data = out / "plan_train.jsonl"
    if not (resume and data.is_file()):  # a resumed run must see the data order it started with
        out.mkdir(parents=True, exist_ok=True)
        _write_plan_data(data, None, examples, 0, seed, 1)
    cfg = LoraTrainConfig(
        base=base,
        data=str(data),
        adapter=adapter,
        out=str(out),
        r=r,
        alpha=alpha,
        epochs=epochs,
        max_steps=max_steps,
        stop_after=stop_after,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        checkpoint_every=checkpoint_every,
        seed=seed,
        resume=resume,
        progress=not quiet,
    )
    summary = _run_or_fail(run, cfg)
    write_task_marker(
        out / adapter,
        "plan",
        prompt="citegraph.agents.prompts.tuned_plan_messages",
        tools=tool_brief(REGISTRY),
        examples=examples,
        seed=seed,
    )
    summary.pop("config", None)
    print(json.dumps(summary))


def train_dpo(
    adapter: Annotated[Path, typer.Option("--adapter", help="The answer adapter to start from (SFT).")],
    squad: Annotated[
        Path,
        typer.Option("--squad", help="SQuAD-format file the adapter was trained on (its train split)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run directory: pairs.jsonl, the adapter in OUT/NAME.")],
    base: Annotated[str, typer.Option("--base", help="The adapter's base: a .gguf file or smollm2.")] = (
        "smollm2"
    ),
    name: Annotated[str, typer.Option("--name", help="Name (directory) of the new adapter.")] = "answer-dpo",
    questions: Annotated[
        int, typer.Option(help="Training questions to draft answers for (never the development ones).")
    ] = 740,
    samples: Annotated[int, typer.Option(help="Drafts per question: one greedy, the rest sampled.")] = 3,
    rescue: Annotated[
        int,
        typer.Option(
            help="More samples, until one is accepted, for a question whose drafts are all rejected."
        ),
    ] = 6,
    temperature: Annotated[float, typer.Option(help="Temperature of the sampled drafts.")] = 0.9,
    held_out: Annotated[float, typer.Option(help="Share of paragraphs held out (as for the SFT).")] = 0.25,
    beta: Annotated[float, typer.Option(help="DPO beta (how far from the starting adapter).")] = 0.1,
    lr: float = 5e-5,
    epochs: float = 1.0,
    batch_size: int = 4,
    max_length: Annotated[
        int, typer.Option(help="Prompt + answer tokens; longer prompts are skipped.")
    ] = 384,
    seed: int = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Preference-tune an answer adapter: it drafts answers to its own training questions (through
    llama.cpp), the verifier accepts or rejects each draft, and DPO (trl) trains on accepted-vs-rejected
    pairs. OUT/pairs.jsonl is reused when it exists."""
    from citegraph.models.lora.dpo import DpoTrainConfig
    from citegraph.models.lora.dpo import train_dpo as run

    pairs = out / "pairs.jsonl"
    if not pairs.is_file():
        if not squad.is_file():
            raise _fail(f"SQuAD file does not exist: {squad}")
        if not adapter.is_dir():
            raise _fail(f"adapter folder does not exist: {adapter}")
        counts = _draft_pairs(
            adapter,
            squad,
            base,
            pairs,
            questions,
            samples,
            rescue,
            temperature,
            held_out,
            max_length,
            seed,
            quiet,
        )
        print(json.dumps(counts))
    cfg = DpoTrainConfig(
        adapter=str(adapter),
        pairs=str(pairs),
        out=str(out),
        name=name,
        base=base,
        beta=beta,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        progress=not quiet,
    )
    summary = _run_or_fail(run, cfg)
    summary.pop("config", None)
    print(json.dumps(summary))


def _draft_pairs(
    adapter: Path,
    squad: Path,
    base: str,
    pairs: Path,
    questions: int,
    samples: int,
    rescue: int,
    temperature: float,
    held_out: float,
    max_length: int,
    seed: int,
    quiet: bool,
) -> dict[str, Any]:
    """Draft, judge and pair (``dpo.draft_pairs``) over the training split's questions whose prompt
    leaves room for an answer in ``max_length`` tokens; write the pairs to ``pairs``."""
    from rich.progress import Progress

    from citegraph.agents.verifier import Verifier
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.judge.judge import judge_at
    from citegraph.models.llamacpp import load_gguf_chat_model
    from citegraph.models.lora.data import read_squad, split_paragraphs, write_jsonl
    from citegraph.models.lora.dpo import ANSWER_TOKENS, draft_pairs, draftable_items, drafting_items

    train, _ = split_paragraphs(read_squad(squad), held_out, seed)
    items = drafting_items(draftable_items(train, base, seed, max_length), questions)
    try:
        model = load_gguf_chat_model(f"{base}+{adapter}", max_tokens=ANSWER_TOKENS)
    except ModelNotFoundError as error:
        raise _fail(str(error)) from None
    with Progress(disable=quiet) as bar:
        task = bar.add_task("drafting and judging", total=len(items))
        records, counts = draft_pairs(
            model,
            items,
            Verifier(judge_at()),
            samples=samples,
            rescue=rescue,
            temperature=temperature,
            seed=seed,
            progress=lambda done, n_pairs: bar.update(task, completed=done, description=f"{n_pairs} pairs"),
        )
    write_jsonl(records, pairs)
    return counts


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this subpackage's commands to the ``citegraph`` command groups."""
    train_app.command("lora")(train_lora)
    train_app.command("lora-data")(train_lora_data)
    train_app.command("lora-merge")(train_lora_merge)
    train_app.command("lora-plan-data")(train_lora_plan_data)
    train_app.command("lora-planner")(train_lora_planner)
    train_app.command("dpo")(train_dpo)
