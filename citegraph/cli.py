"""The ``citegraph`` command: ingest documents, ask cited questions, list sources, run the demo."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.context import AssistantContext, RagContext
    from citegraph.retrieval.store import HybridStore
    from citegraph.threads import RunResult

app = typer.Typer(help="Cited answers over your own documents.", no_args_is_help=True, add_completion=False)
train_app = typer.Typer(help="Train local models.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval and answers.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

out = Console()
err = Console(stderr=True)

# Package data (pyproject.toml), so `citegraph demo` works from an installed wheel in any directory.
DEMO_CORPUS = Path(__file__).resolve().parent / "demo_corpus"
DEMO_QUESTION = "Who is Irene Adler?"

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory (default: CITEGRAPH_STORE_DIR or the XDG data dir)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _settings(store: Path | None) -> Settings:
    try:
        return Settings(store_dir=store) if store else Settings()
    except ValueError as error:
        err.print(f"[red]error:[/red] invalid settings: {error}")
        raise typer.Exit(2) from None


class _ProgressReporter:
    """A rich progress bar on a terminal; one plain line per step otherwise (logs, CI, pipes)."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> _ProgressReporter:
        if err.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True,
            )  # fmt: skip
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bar is None:
            print(f"{stage} {done}/{total}", file=sys.stderr, flush=True)
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)  # type: ignore[arg-type]


def _open_store(settings: Settings) -> HybridStore:
    from citegraph.retrieval.store import HybridStore, StoreError

    try:
        return HybridStore(settings)
    except (StoreError, OSError) as error:
        err.print(f"[red]error:[/red] cannot open the store at {settings.store_dir}: {error}")
        raise typer.Exit(2) from None


def _require_store(settings: Settings, store: Path | None, *, documents: bool = True) -> None:
    """Exit 2 unless the store exists (and, with ``documents``, holds some): a command that only reads
    must not create a store, or a mistyped --store answers "The documents do not say." from nothing."""
    import sqlite3

    from citegraph.ingest.pipeline import stored_sources

    where = settings.store_dir
    hint = f"add documents with: citegraph ingest {f'--store {store} ' if store else ''}FILE_OR_FOLDER..."
    try:
        count = stored_sources(where)
    except sqlite3.Error as error:
        message = f"cannot open the store at {where}: {error}"
    else:
        if count is None:
            message = f"no store at {where} (nothing was ingested there); {hint}"
        elif documents and not count:
            message = f"the store at {where} holds no documents; {hint}"
        else:
            return
    raise _fail(message)


@app.command()
def ingest(
    # readable=False: click would reject the whole command for one unreadable path; the pipeline
    # reports that path by name and ingests the rest.
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders (searched recursively).", readable=False)
    ],
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove these sources instead of adding them.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add (or with --remove, delete) documents: .txt, .md, .pdf, .html. Exit code 1 if any file failed."""
    from citegraph.ingest.pipeline import ingest_paths, remove_paths

    settings = _settings(store)
    if remove:  # removing from a store that does not exist must not create one
        _require_store(settings, store, documents=False)
    hybrid = _open_store(settings)
    with _ProgressReporter() as progress:
        report = remove_paths(hybrid, paths) if remove else ingest_paths(hybrid, paths, settings, progress)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table("status", "file", "chunks", "note", box=None, header_style="bold")
        table.columns[1].overflow = table.columns[3].overflow = "fold"  # never hide which file failed
        colors = {"failed": "red", "skipped": "yellow", "unchanged": "dim"}
        for o in report.outcomes:
            color = colors.get(o.status, "green")
            table.add_row(f"[{color}]{o.status}[/{color}]", o.path, str(o.chunks or ""), o.reason)
        out.print(table)
        out.print(
            f"{report.count('added')} added, {report.count('replaced')} replaced, "
            f"{report.count('unchanged')} unchanged, {report.count('removed')} removed, "
            f"{len(report.failed)} failed; "
            f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f}s; "
            f"store: {settings.store_dir}"
        )
        for o in report.failed:
            err.print(f"[red]error:[/red] {escape(f'{o.path}: {o.reason}')}", soft_wrap=True, highlight=False)
    raise typer.Exit(0 if report.ok else 1)


def _print_citations(answer: dict) -> None:
    if answer["citations"]:
        out.print()
    for c in answer["citations"]:
        quote = escape(" ".join(c["quote"].split()))  # document text: "[heading anchors](#x)" is no markup
        where = escape(c["location"])  # a section heading may hold [brackets]
        out.print(f"[bold][{c['n']}][/bold] {Path(c['source']).name}, {where}: [dim]“{quote}”[/dim]")


def _print_closest(answer: dict) -> None:
    # An abstention says where the judge looked, so a person can read on there; numbered apart from
    # citations, since the answer claims nothing from them.
    from citegraph.answers import shortened

    if not answer.get("closest"):
        return
    out.print("\n[bold]Closest passages[/bold] (not an answer):")
    for c in answer["closest"]:
        quote = escape(shortened(" ".join(c["quote"].split()), 160))
        out.print(f"  {c['n']}. {Path(c['source']).name}, {escape(c['location'])}: [dim]“{quote}”[/dim]")


def _print_short_answer(answer: dict) -> None:
    if answer.get("short_answer"):
        out.print(f"[bold]Short answer:[/bold] {escape(answer['short_answer'])}", highlight=False)


def _print_searched(answer: dict) -> None:
    # A follow-up ("How does it ...?") was searched as a standalone question: say which, so a wrong
    # resolution of "it" is visible.
    if answer.get("standalone_question"):
        out.print(f"[dim]Searched for: {escape(answer['standalone_question'])}[/dim]", highlight=False)


def _print_details(answer: dict) -> None:
    """What follows an answer's text: the standalone question searched, the short answer, the citations
    and, for an abstention, the closest passages."""
    _print_searched(answer)
    _print_short_answer(answer)
    _print_citations(answer)
    _print_closest(answer)


def _print_answer(answer: dict) -> None:
    out.print(answer["answer"], highlight=False, markup=False)
    _print_details(answer)


def _print_review(request: dict) -> None:
    draft = request["answer"]
    out.print("[bold yellow]Review requested[/bold yellow] — draft answer:")
    _print_answer(draft)
    if request.get("verifier_notes"):
        out.print(f"[dim]verifier removed:\n{escape(request['verifier_notes'])}[/dim]", highlight=False)


def _stream_token(text: str) -> None:
    out.print(text, end="", highlight=False, soft_wrap=True, markup=False)
    out.file.flush()


StrategyOption = Annotated[
    str, typer.Option("--strategy", help="extract (no LLM, default) or generate (a model writes it).")
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="Model spec for --strategy generate: gguf:smollm2, gguf:FILE, hf:DIR, scratch:DIR, "
        "lora:BASE+ADAPTER, or a provider's (openai:gpt-4o-mini, anthropic:..., ollama:...).",
    ),
]
ReviewFlag = Annotated[bool, typer.Option("--review", help="Pause for a human to approve the answer.")]
ThreadOption = Annotated[
    str | None, typer.Option("--thread", help="Continue this conversation thread (default: a new one).")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    # soft_wrap: one line however long (Rich would wrap at 80 columns when stderr is not a terminal)
    # escape: messages quote paths and specs, whose brackets Rich would read as markup
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run_rag(settings: Settings, call: Callable[..., RunResult], stream: bool, *args: Any) -> RunResult:
    """Run ``call(graph, *args)`` on the checkpointed rag graph, mapping bad input to exit code 2."""
    from citegraph.agents.reviewer import ReviewError
    from citegraph.errors import ModelNotFoundError
    from citegraph.retrieval.query import QueryError
    from citegraph.threads import ThreadError, rag_graph

    try:
        with rag_graph(settings) as graph:
            return call(graph, *args, on_token=_stream_token if stream else None)
    except (QueryError, ReviewError, ThreadError, ModelNotFoundError) as error:
        raise _fail(str(error)) from None
    except ValueError as error:
        raise _fail(f"model or option: {error}") from None


def _context(settings: Settings, strategy: str, model: str, k: int, review: bool) -> RagContext:
    from citegraph.context import RagContext

    if strategy not in ("extract", "generate"):
        raise _fail(f"--strategy is extract or generate, not {strategy!r}")
    return RagContext(
        strategy=strategy,  # type: ignore[arg-type]
        model=model,
        top_k=k,
        review=review,
        store_dir=str(settings.store_dir),
    )


def _show(result: RunResult, as_json: bool, streamed: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    elif result.interrupt is not None:
        _print_review(result.interrupt)
        err.print(
            f"thread {result.thread_id} waits for review: citegraph resume {result.thread_id} "
            """--json '{"action": "approve"}'  (or edit/reject)"""
        )
    else:
        if streamed:
            out.print()
            _print_details(result.answer or {})
        else:
            _print_answer(result.answer or {})
        err.print(f"[dim]thread {result.thread_id}[/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer from your documents.")],
    k: Annotated[int, typer.Option("-k", help="Most passages to draw on.", min=1, max=20)] = 5,
    strategy: StrategyOption = "extract",
    model: ModelOption = "gguf:smollm2",
    review: ReviewFlag = False,
    thread: ThreadOption = None,
    graph: Annotated[
        str, typer.Option("--graph", help="rag (cited answer) or assistant (plans tool calls).")
    ] = "rag",
    planner: Annotated[
        str, typer.Option("--planner", help="Assistant planner model spec (default: rules + embeddings).")
    ] = "extractive",
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the ingested documents, citing a source for every sentence.

    The answer streams as it is published (after verification); --json prints the structured answer, or
    the pending review when --review is on.
    """
    from citegraph.threads import ask as ask_thread

    settings = _settings(store)
    # The assistant has tools that need no documents (calculator, date), but it must not create a store.
    _require_store(settings, store, documents=graph != "assistant")
    if graph == "assistant":
        from citegraph.context import AssistantContext

        context = AssistantContext(store_dir=str(settings.store_dir), top_k=k, planner_model=planner)
        _ask_assistant(settings, question, context, thread, as_json)
        return
    if graph != "rag":
        raise _fail(f"--graph is rag or assistant, not {graph!r}")
    context = _context(settings, strategy, model, k, review)
    result = _run_rag(settings, ask_thread, not as_json, question, context, thread)
    _show(result, as_json, streamed=not as_json)


def _ask_assistant(
    settings: Settings,
    question: str | None,
    context: AssistantContext,
    thread: str | None,
    as_json: bool,
    decision: Any = None,
) -> None:
    """Run the tool-routing assistant (``question=None``: answer the approval ``thread`` waits for with
    ``decision``); on a terminal, approvals are asked interactively."""
    from citegraph.agents.reviewer import ReviewError
    from citegraph.checkpoint import open_checkpointer
    from citegraph.errors import ModelNotFoundError
    from citegraph.retrieval.query import QueryError
    from citegraph.threads import ThreadError, run_assistant

    def approve(request: dict) -> str:
        what = request.get("tool") or "plan"
        details = request.get("args") or request.get("plan")
        allowed = typer.confirm(f"Allow {what} {details}? {request.get('preview', '')}", err=True)
        return "approve" if allowed else "reject"

    try:
        with open_checkpointer(settings) as saver:
            answer = run_assistant(
                question,
                thread_id=thread,
                checkpointer=saver,
                context=context,
                approve=approve if sys.stdin.isatty() and not as_json else None,
                decision=decision,
            )
    except (QueryError, ReviewError, ThreadError, ModelNotFoundError, ValueError) as error:
        raise _fail(str(error)) from None
    if as_json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    if "pending" in answer:
        out.print(f"waiting for approval: {answer['pending']}", highlight=False)
        err.print(
            f'approve it: citegraph resume {answer["thread_id"]} --json \'{{"action": "approve"}}\''
            " (or reject)"
        )
        return
    _print_answer(answer)
    for step in answer.get("steps", []):
        mark = "[green]ok[/green]" if step["ok"] else "[red]failed[/red]"
        call = escape(f"{step['tool']}({step['args']})")
        err.print(f"step {call}: {mark}", highlight=False)


@app.command()
def resume(
    thread_id: Annotated[str, typer.Argument(help="The thread waiting for a review or an approval.")],
    decision: Annotated[
        str | None,
        typer.Option(
            "--json",
            help="""The decision: '{"action": "approve"}', edit with "text" (a plan: "plan"), """
            """reject with "feedback".""",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Resume a thread waiting for a human (a rag answer's review, an assistant's plan or tool approval)
    and print the result as JSON."""
    from citegraph.checkpoint import open_checkpointer
    from citegraph.context import AssistantContext
    from citegraph.threads import is_assistant_thread
    from citegraph.threads import resume as resume_thread

    if decision is None:  # never approve on the human's behalf
        raise _fail("""say what to do: --json '{"action": "approve"}' (or "edit" / "reject")""")
    try:
        value = json.loads(decision)
    except json.JSONDecodeError as error:
        raise _fail(f"--json is not JSON: {error}") from None
    settings = _settings(store)
    _require_store(settings, store, documents=False)  # the thread lives beside the store
    with open_checkpointer(settings) as saver:
        assistant = is_assistant_thread(saver, thread_id)
    if assistant:
        # The run goes on with the thread's store; the plan it approves was made with the asker's options.
        context = AssistantContext(store_dir=str(settings.store_dir))
        _ask_assistant(settings, None, context, thread_id, as_json=True, decision=value)
        return
    result = _run_rag(settings, resume_thread, False, thread_id, value)
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))


def _decide(request: dict) -> dict:
    """Ask the person at the terminal for a review decision."""
    _print_review(request)
    while True:
        choice = typer.prompt("approve / edit / reject", default="approve").strip().lower()[:1]
        if choice == "a":
            return {"action": "approve"}
        if choice == "e":
            return {"action": "edit", "text": typer.prompt("new answer (with [n] markers)")}
        if choice == "r":
            return {"action": "reject", "feedback": typer.prompt("what is wrong or missing", default="")}


@app.command()
def chat(
    k: Annotated[int, typer.Option("-k", help="Most passages to draw on.", min=1, max=20)] = 5,
    strategy: StrategyOption = "extract",
    model: ModelOption = "gguf:smollm2",
    review: ReviewFlag = False,
    thread: ThreadOption = None,
    store: StoreOption = None,
) -> None:
    """A conversation on one thread: follow-ups can refer to earlier answers. Empty line or Ctrl-D ends."""
    from citegraph.threads import ask as ask_thread
    from citegraph.threads import resume as resume_thread

    settings = _settings(store)
    _require_store(settings, store)
    context = _context(settings, strategy, model, k, review)
    thread_id = thread or uuid.uuid4().hex
    err.print(f"[dim]thread {thread_id} — empty line to quit[/dim]")
    while True:
        try:
            question = typer.prompt("you", default="", show_default=False, prompt_suffix="> ").strip()
        except (EOFError, typer.Abort):
            break
        if not question:
            break
        try:
            result = _run_rag(settings, ask_thread, True, question, context, thread_id)
            while result.interrupt is not None:
                result = _run_rag(
                    settings, resume_thread, True, thread_id, _decide(result.interrupt), context
                )
        except typer.Exit:
            continue  # the error is printed; the conversation goes on
        out.print()
        _print_details(result.answer or {})


@app.command()
def verify(
    answer: Annotated[
        Path, typer.Option("--answer", help="Text file with the answer; its sentences end in [n].")
    ],
    sources: Annotated[
        Path,
        typer.Option("--sources", help='JSON file: {"1": "text of source 1", ...} (the texts [n] cite).'),
    ],
    judge: Annotated[
        Path | None, typer.Option("--judge", help="Judge folder (default: the one shipped with CiteGraph).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check which sentences of any answer its cited sources really say. Exit code 0: every sentence is
    supported; 1: some are not; 2: bad input."""
    from citegraph.agents.verifier import verify_answer
    from citegraph.errors import ModelNotFoundError

    try:
        text = answer.read_text(encoding="utf-8")
        given = json.loads(sources.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(
            f"cannot read {error.filename if isinstance(error, OSError) else answer}: {error}"
        ) from None
    except json.JSONDecodeError as error:
        raise _fail(f"{sources} is not JSON: {error}") from None
    if isinstance(given, list):  # [{"n": 1, "text": ...}, ...] works too
        given = {str(s.get("n")): s.get("text") for s in given if isinstance(s, dict)}
    if not isinstance(given, dict):
        raise _fail(f'{sources} must hold a JSON object {{"1": "source text", ...}}')
    try:
        result = verify_answer(text, given, judge)
    except (ValueError, ModelNotFoundError) as error:
        raise _fail(str(error)) from None
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        table = Table("", "sentence", "why", show_lines=True)
        for check in result.checks:
            mark = "[green]✓[/green]" if check.supported else "[red]✗[/red]"
            why = f"“{' '.join(check.evidence.split())}”" if check.supported else check.reason
            table.add_row(mark, escape(check.text), escape(why))
        out.print(table)
        out.print("[green]verified[/green]" if result.verified else "[red]not verified[/red]")
    raise typer.Exit(0 if result.verified else 1)


@app.command()
def sources(store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """List the documents in the store."""
    settings = _settings(store)
    _require_store(settings, store, documents=False)  # an empty store lists nothing; a missing one: error
    hybrid = _open_store(settings)
    counts = hybrid.manifest.chunk_counts()
    rows = [
        {"source": s.path, "title": s.title, "kind": s.kind, "chunks": counts.get(s.source_id, 0)}
        for s in hybrid.sources()
    ]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("source", "title", "kind", "chunks", box=None, header_style="bold")
    for row in rows:
        table.add_row(row["source"], row["title"], row["kind"], str(row["chunks"]))
    out.print(table)


@app.command()
def demo(
    question: Annotated[str, typer.Argument(help="Question to ask.")] = DEMO_QUESTION,
    store: StoreOption = None,
) -> None:
    """Ingest the bundled Sherlock Holmes corpus if the store is empty, then answer a sample question."""
    from citegraph.ingest.pipeline import ingest_paths

    settings = _settings(store)
    hybrid = _open_store(settings)
    if hybrid.is_empty():
        if not DEMO_CORPUS.is_dir():
            err.print(
                f"[red]error:[/red] the demo corpus is missing from the installed package ({DEMO_CORPUS})"
            )
            raise typer.Exit(2)
        err.print(
            f"Ingesting the demo corpus into {settings.store_dir} (first run only, a few minutes on 2 cores)"
        )
        with _ProgressReporter() as progress:
            report = ingest_paths(hybrid, [DEMO_CORPUS], settings, progress)
        if not report.ok:
            for o in report.failed:
                err.print(f"[red]failed:[/red] {escape(f'{o.path}: {o.reason}')}")
            raise typer.Exit(1)
    out.print(f"[bold]Q:[/bold] {escape(question)}\n")
    from citegraph.threads import ask as ask_thread

    result = _run_rag(settings, ask_thread, True, question, _context(settings, "extract", "", 3, False), None)
    _show(result, as_json=False, streamed=True)


# Command groups that live beside their subpackage register here (each import must stay light: no torch).
from citegraph.models.scratch.cli import register as register_scratch  # noqa: E402

register_scratch(app, train_app, eval_app)
from citegraph.eval.cli import register as register_eval  # noqa: E402

register_eval(app, train_app, eval_app)
from citegraph.server.cli import register as register_server  # noqa: E402

register_server(app, train_app, eval_app)
from citegraph.models.lora.cli import register as register_lora  # noqa: E402

register_lora(app, train_app, eval_app)
from citegraph.models.judge.cli import register as register_judge  # noqa: E402

register_judge(app, train_app, eval_app)
from citegraph.eval.lab_cli import register as register_lab  # noqa: E402

register_lab(app, train_app, eval_app)
from citegraph.models.export_cli import register as register_export  # noqa: E402

register_export(app, train_app, eval_app)
from citegraph.eval.repr_cli import register as register_repr  # noqa: E402

register_repr(app, train_app, eval_app)


if __name__ == "__main__":
    app()
