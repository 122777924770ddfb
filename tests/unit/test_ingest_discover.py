"""Finding the files of an ingest: every named path and every odd entry of a folder is accounted for, and
no path the OS refuses to look at stops the others."""

from __future__ import annotations

import os
from pathlib import Path

from citegraph.ingest.pipeline import FileOutcome, discover


def outcomes_by_name(outcomes: list[FileOutcome]) -> dict[str, tuple[str, str]]:
    return {Path(o.path).name: (o.status, o.reason) for o in outcomes}


def test_symlink_loops_in_a_folder_are_skipped_with_a_reason(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "note.md").write_text("A note.")
    (docs / "sub" / "up").symlink_to(docs)  # a folder link back to an ancestor: walking it never ends
    (docs / "self.txt").symlink_to(docs / "self.txt")  # a file link to itself
    (docs / "dangling.md").symlink_to(docs / "gone.md")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked.txt").write_text("Reached through a link to its folder.")
    (docs / "shelf").symlink_to(elsewhere)  # an ordinary folder link is followed

    files, outcomes = discover([docs])

    assert sorted(f.name for f in files) == ["linked.txt", "note.md"]
    status = outcomes_by_name(outcomes)
    assert status["up"] == ("skipped", f"symbolic link loop (back to {os.path.realpath(docs)})")
    assert status["self.txt"] == ("skipped", "symbolic link loop")
    assert status["dangling.md"] == ("skipped", "broken symbolic link")
    assert len(outcomes) == 3


def test_a_named_symlink_loop_is_a_failure(tmp_path: Path) -> None:
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    good = tmp_path / "good.md"
    good.write_text("Good.")
    files, outcomes = discover([loop, good])
    assert files == [good]
    assert outcomes_by_name(outcomes) == {"loop.md": ("failed", "symbolic link loop")}


def test_a_named_folder_without_supported_files_is_a_failure(tmp_path: Path) -> None:
    empty, hidden_only, good = tmp_path / "empty", tmp_path / "hidden-only", tmp_path / "good"
    for folder in (empty, hidden_only, good):
        folder.mkdir()
    (empty / "slides.pptx").write_bytes(b"PK")
    (hidden_only / ".notes.md").write_text("hidden files are not ingested")
    (good / "a.md").write_text("A.")
    files, outcomes = discover([empty, hidden_only, good])
    assert files == [good / "a.md"]
    reason = "no supported files (.txt .md .pdf .html) in this folder"
    status = outcomes_by_name(outcomes)
    assert status["empty"] == status["hidden-only"] == ("failed", reason)
    assert status["slides.pptx"] == ("skipped", "unsupported file type")


def test_a_path_the_os_cannot_look_up_does_not_stop_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("Good.")
    too_long = tmp_path / ("x" * 300 + ".md")  # stat() raises ENAMETOOLONG, not "no such file"
    files, outcomes = discover([too_long, good])
    assert files == [good]
    [outcome] = outcomes
    assert (outcome.path, outcome.status, outcome.reason) == (str(too_long), "failed", "file name too long")


def test_a_file_name_that_is_not_utf8_is_reported_not_stored(tmp_path: Path) -> None:
    # A Latin-1 name from an old archive: the store (SQLite, Chroma) takes UTF-8 only, so such a file
    # reaching the commit would fail the whole batch.
    latin = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))
    latin.write_text("Notes from the café.")
    good = tmp_path / "good.md"
    good.write_text("Good.")
    files, outcomes = discover([latin, good])
    assert files == [good]
    [outcome] = outcomes
    assert outcome.path == str(tmp_path / "caf\ufffd.txt")  # printable: U+FFFD for the undecodable byte
    assert outcome.status == "failed"
    assert outcome.reason == "the file name is not valid UTF-8 (rename the file)"
