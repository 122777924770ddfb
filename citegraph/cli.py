"""The ``citegraph`` command: ingest documents, ask cited questions, list sources, run the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citegraph.settings import Settings

if TYPE_CHECKING:
    from citegraph.retrieval.store import HybridStore

app = typer.Typer(help="Cited answers over your own documents.", no_args_is_help=True, add_completion=False)
train_app = typer.Typer(help="Train local models.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval and answers.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

out = Console()
err = Console(stderr=True)

DEMO_CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus"
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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove these sources instead of adding them.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add (or with --remove, delete) documents: .txt, .md, .pdf, .html. Exit code 1 if any file failed."""
    from citegraph.ingest.pipeline import ingest_paths, remove_paths

    settings = _settings(store)
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
            err.print(f"[red]error:[/red] {o.path}: {o.reason}", soft_wrap=True, highlight=False)
    raise typer.Exit(0 if report.ok else 1)


def _print_answer(answer: dict) -> None:
    out.print(answer["answer"], highlight=False)
    if answer["citations"]:
        out.print()
    for c in answer["citations"]:
        quote = " ".join(c["quote"].split())
        out.print(f"[bold][{c['n']}][/bold] {Path(c['source']).name}, {c['location']}: [dim]“{quote}”[/dim]")


def _answer(question: str, settings: Settings, top_k: int) -> dict:
    from citegraph.agents.normalizer import QueryError
    from citegraph.graphs.rag import RagContext, graph

    try:
        state = graph.invoke(
            {"question": question}, context=RagContext(top_k=top_k, store_dir=str(settings.store_dir))
        )
    except QueryError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    return dict(state["answer"])


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer from your documents.")],
    k: Annotated[int, typer.Option("-k", help="How many passages to draw on.", min=1, max=20)] = 3,
    store: StoreOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the ingested documents, citing a source for every sentence."""
    settings = _settings(store)
    answer = _answer(question, settings, k)
    if as_json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        _print_answer(answer)


@app.command()
def sources(store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """List the documents in the store."""
    settings = _settings(store)
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
                f"[red]error:[/red] the demo corpus is not at {DEMO_CORPUS} (run from a source checkout)"
            )
            raise typer.Exit(2)
        err.print(
            f"Ingesting the demo corpus into {settings.store_dir} (first run only, a few minutes on 2 cores)"
        )
        with _ProgressReporter() as progress:
            report = ingest_paths(hybrid, [DEMO_CORPUS], settings, progress)
        if not report.ok:
            for o in report.failed:
                err.print(f"[red]failed:[/red] {o.path}: {o.reason}")
            raise typer.Exit(1)
    out.print(f"[bold]Q:[/bold] {question}\n")
    _print_answer(_answer(question, settings, 3))


# Command groups that live beside their subpackage register here (each import must stay light: no torch).
from citegraph.models.scratch.cli import register as register_scratch  # noqa: E402

register_scratch(app, train_app, eval_app)
from citegraph.eval.cli import register as register_eval  # noqa: E402

register_eval(app, train_app, eval_app)


if __name__ == "__main__":
    app()
