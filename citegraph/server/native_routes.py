"""CiteGraph's own endpoints, for what OpenAI's shape cannot carry: sources (upload, list, remove, read a
cited passage), threads (read one; finish a run its dead worker left mid-way) and reviews (resume the
review interrupt of a thread)."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from citegraph.server.errors import ApiError
from citegraph.server.graphs import GraphService, RunOutcome
from citegraph.server.schemas import THREAD_ID, ReviewDecision

router = APIRouter(prefix="/api")

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _service(request: Request) -> GraphService:
    return request.app.state.service


def _store(request: Request):
    return request.app.state.store


def _uploads_dir(request: Request) -> Path:
    folder = request.app.state.settings.store_dir.expanduser() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_filename(name: str | None) -> str:
    """The upload's base name with only safe characters; a clear 400 for names that leave nothing."""
    from citegraph.ingest.loaders import SUPPORTED_SUFFIXES

    base = Path((name or "").replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip(" .")
    if not cleaned or cleaned.startswith("."):
        raise ApiError(400, f"the upload's file name {name!r} is not usable", param="files")
    suffix = Path(cleaned).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ApiError(
            415,
            f"{cleaned}: unsupported file type '{suffix or 'none'}' (supported: {kinds})",
            code="unsupported_file_type",
            param="files",
        )
    return cleaned[:200]


def _source_row(record: Any, counts: dict[str, int], lengths: dict[str, int]) -> dict[str, Any]:
    return {
        "source_id": record.source_id,
        "source": record.path,
        "name": Path(record.path).name,
        "title": record.title,
        "kind": record.kind,
        "chunks": counts.get(record.source_id, 0),
        # Not len(record.text): listed records leave their (possibly large) text out.
        "characters": lengths.get(record.source_id, 0),
        "ingested_at": record.ingested_at,
    }


@router.get("/sources")
async def list_sources(request: Request) -> dict:
    store = _store(request)

    def rows() -> list[dict]:
        counts, lengths = store.manifest.chunk_counts(), store.manifest.text_lengths()
        return [_source_row(s, counts, lengths) for s in store.sources()]

    return {"object": "list", "data": await run_in_threadpool(rows)}


@router.post("/sources")
async def upload_sources(request: Request, files: Annotated[list[UploadFile], File()]) -> dict:
    """Save the uploaded files under ``<store>/uploads/`` and ingest them as one atomic change.

    All or nothing: an unsupported type is a 415, a file that fails to ingest a 422 naming it and why;
    then no file of the upload is ingested and an earlier upload of the same name is put back, so a bad
    upload loses nothing.
    """
    if not files:
        raise ApiError(400, "no files in the upload (multipart field 'files')", param="files")
    names = [safe_filename(f.filename) for f in files]
    if len(set(names)) != len(names):
        raise ApiError(400, "two uploaded files have the same name", param="files")
    return await run_in_threadpool(_ingest_uploads, request, files, names)


def _ingest_uploads(request: Request, files: list[UploadFile], names: list[str]) -> dict:
    from citegraph.ingest.pipeline import ingest_paths

    folder = _uploads_dir(request)
    token = uuid.uuid4().hex[:8]
    targets, backups = [], {}
    with request.app.state.ingest_lock:
        try:
            for upload, name in zip(files, names, strict=True):
                target = folder / name
                if target.exists():
                    backups[target] = target.with_name(f".{name}.{token}.bak")
                    target.replace(backups[target])
                partial = target.with_name(f".{name}.{token}.part")
                with partial.open("wb") as handle:
                    upload.file.seek(0)
                    shutil.copyfileobj(upload.file, handle)
                partial.replace(target)
                targets.append(target)
            report = ingest_paths(_store(request), targets, request.app.state.settings, all_or_nothing=True)
        except BaseException:
            _restore(targets, backups, failed=set(map(str, targets)))
            raise
        if not report.ok:
            _restore(targets, backups, failed=set(map(str, targets)))  # nothing was ingested: undo it all
            reasons = "; ".join(f"{Path(o.path).name}: {o.reason}" for o in report.failed)
            rest = " (nothing from this upload was ingested)" if len(targets) > 1 else ""
            raise ApiError(422, f"cannot ingest {reasons}{rest}", code="file_not_ingested", param="files")
        _restore(targets, backups, failed=set())
    result = report.to_dict()
    for entry in result["files"]:
        entry["name"] = Path(entry["path"]).name
    return result


def _restore(targets: list[Path], backups: dict[Path, Path], failed: set[str]) -> None:
    """Put back the earlier file where the new one failed (or drop the failed new one); drop the rest."""
    for target in targets:
        backup = backups.get(target)
        if str(target) in failed:
            if backup is not None:
                backup.replace(target)
            else:
                target.unlink(missing_ok=True)
        elif backup is not None:
            backup.unlink(missing_ok=True)
    for target, backup in backups.items():
        if target not in targets and backup.exists():
            backup.replace(target)


@router.delete("/sources/{source_id}")
async def remove_source(request: Request, source_id: str) -> dict:
    from citegraph.ingest.pipeline import remove_paths

    store = _store(request)
    record = store.source(source_id)
    if record is None:
        raise ApiError(404, f"no source with id '{source_id}'", code="source_not_found")

    def remove() -> dict:
        with request.app.state.ingest_lock:
            report = remove_paths(store, [record.path])
            uploaded = Path(record.path)
            if report.ok and uploaded.parent == _uploads_dir(request).resolve():
                uploaded.unlink(missing_ok=True)
        return {**report.to_dict(), "source_id": source_id, "source": record.path}

    return await run_in_threadpool(remove)


@router.get("/sources/{source_id}/passage")
async def passage(request: Request, source_id: str, start: int, end: int, context: int = 400) -> dict:
    """The cited span ``text[start:end]`` of a source with up to ``context`` characters either side."""
    record = _store(request).source(source_id)
    if record is None:
        raise ApiError(404, f"no source with id '{source_id}'", code="source_not_found")
    length = len(record.text)
    if not 0 <= start <= end <= length:
        raise ApiError(400, f"start/end must satisfy 0 <= start <= end <= {length}", param="start")
    context = max(0, min(context, 5000))
    before_start, after_end = max(0, start - context), min(length, end + context)
    page = next((number for number, s, e in record.pages if s <= start < e), None)
    return {
        "source_id": source_id,
        "source": record.path,
        "title": record.title,
        "page": page,
        "start": start,
        "end": end,
        "before": record.text[before_start:start],
        "quote": record.text[start:end],
        "after": record.text[end:after_end],
        "truncated_before": before_start > 0,
        "truncated_after": after_end < length,
    }


def _check_thread_id(thread_id: str) -> None:
    if not re.match(THREAD_ID, thread_id):
        raise ApiError(400, "a thread id is 1-200 of [A-Za-z0-9._:@+-]", param="thread_id")


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "thread_id": outcome.thread_id,
        "model": outcome.model,
        "status": outcome.status,
        "answer": outcome.answer,
        "review": outcome.review,
        "resumed": outcome.resumed,
    }


@router.get("/threads/{thread_id}")
async def get_thread(request: Request, thread_id: str) -> dict:
    _check_thread_id(thread_id)
    return await run_in_threadpool(_service(request).thread, thread_id)


@router.post("/threads/{thread_id}/review")
async def review(request: Request, thread_id: str, decision: ReviewDecision) -> dict:
    """Resume the thread's review interrupt: approve, edit (with ``text``) or reject (with ``feedback``)."""
    _check_thread_id(thread_id)
    outcome = await run_in_threadpool(_service(request).resume, thread_id, decision.payload())
    return outcome_json(outcome)


@router.post("/threads/{thread_id}/resume")
async def resume(request: Request, thread_id: str) -> dict:
    """Finish the run a dead worker left mid-way (thread status ``incomplete``) from its last checkpoint."""
    _check_thread_id(thread_id)
    return outcome_json(await run_in_threadpool(_service(request).go_on, thread_id))
