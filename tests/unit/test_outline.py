"""Where a citation points: headings and line maps (citegraph.ingest.outline), the location string
(citegraph.answers.location) and the manifest that stores them, old stores included."""

from __future__ import annotations

import pickle
import re
import sqlite3
from pathlib import Path

from citegraph.answers import location, shortened
from citegraph.ingest.outline import (
    Heading,
    SectionPaths,
    SourceText,
    compress_line_map,
    heading_at,
    line_at,
    markdown_headings,
    substitute,
)
from citegraph.retrieval.manifest import Manifest, SourceRecord


def test_substitute_moves_offsets() -> None:
    text = "a   b\n\n\n\nc"
    new, moved = substitute(re.compile(r" +"), " ", text, [0, 2, 4, 9, 10])
    assert new == "a b\n\n\n\nc" and moved == [0, 2, 2, 7, 8]
    assert [new[m] for m in (0, 2, 7)] == ["a", "b", "c"]
    collapsed, moved = substitute(re.compile(r"\n{3,}"), "\n\n", new, [3, 5, 6, 7])
    assert collapsed == "a b\n\nc" and moved == [3, 5, 5, 5]


def test_line_map_round_trip() -> None:
    text = "alpha\nbeta\n\ngamma\ndelta"
    file_lines = {0: 3, 6: 4, 12: 9, 18: 10}  # each text line's start -> its line in the file
    line_map = compress_line_map(text, file_lines.items())
    assert line_map == ((0, 3), (12, 9))  # the rest follows from counting newlines
    assert [line_at(text, line_map, offset) for offset in (0, 8, 12, 20)] == [3, 4, 9, 10]
    assert line_at(text, (), 12) == 4  # no map: the text's own lines


def test_markdown_headings_skip_code_and_front_matter() -> None:
    text = "---\ntitle: x\n---\nGuide\n=====\n\n```sh\n# a comment\n```\n## Install ##\n- item\n---\n"
    headings = markdown_headings(text)
    assert [(h.level, h.title) for h in headings] == [(1, "Guide"), (2, "Install")]
    assert text[headings[1].offset :].startswith("## Install")


def test_source_text_carries_its_outline_only_whole() -> None:
    text = SourceText("Intro\n\n2 Usage\n\nRun it.", [Heading(7, 1, "2 Usage")], [(0, 5)])
    assert type(text[0:5]) is str and type(text + "!") is str
    copy = pickle.loads(pickle.dumps(text))
    assert copy == text and copy.headings == text.headings and copy.line_map == ((0, 5),)
    assert heading_at(text.headings, 3) is None and heading_at(text.headings, 16).title == "2 Usage"


def test_location_strings() -> None:
    text = SourceText("Intro\n\n2 Usage\n\nRun it.\nTwice.", [Heading(7, 1, "2 Usage")], [(0, 5)])
    assert location(text, 16, 29, None) == "§ 2 Usage, lines 9-10"
    assert location(text, 0, 5, None) == "line 5"
    assert location(text, 16, 23, 3) == "p. 3, § 2 Usage"
    assert location(str(text), 16, 29, None) == "lines 5-6"  # a plain str: its own lines, no section
    assert location(str(text), 16, 23, 3) == "p. 3"
    long = "A heading so long that nobody would want to read all of it in a citation line"
    assert shortened(long) == "A heading so long that nobody would want to read all of it…"


OLD_SOURCES_TABLE = """CREATE TABLE sources (
    source_id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, title TEXT NOT NULL,
    content_hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL, ingested_at REAL NOT NULL)"""


def test_a_store_written_before_outlines_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "manifest.sqlite"
    db = sqlite3.connect(path)
    db.execute(OLD_SOURCES_TABLE)
    db.execute("INSERT INTO sources VALUES ('s1', '/d/a.html', 'html', 'A', 'h', 'one\ntwo', '[]', 0)")
    db.commit()
    db.close()
    manifest = Manifest(path)
    old = manifest.source("s1")
    assert old is not None and old.headings == () and location(old.text, 4, 7, None) == "line 2"
    record = SourceRecord(
        "s2", "/d/b.md", "markdown", "B", "h", "# B\n\nText.", (), 0.0, (Heading(0, 1, "B"),)
    )
    manifest.replace_sources([], [record], [], {})
    new = manifest.source("s2")
    manifest.close()
    assert new is not None and new.headings == (Heading(0, 1, "B"),)
    assert location(new.text, 5, 10, None) == "§ B, line 3"


def test_section_path_names_the_headings_above_an_offset() -> None:
    headings = [Heading(0, 1, "Settings"), Heading(50, 2, "Socket Binding"), Heading(90, 3, "Hosts")]
    headings.append(Heading(120, 2, "Development"))
    sections = SectionPaths.of(headings)
    assert sections.at(10) == "Settings"
    assert sections.at(100) == "Settings › Socket Binding › Hosts"
    assert sections.at(130) == "Settings › Development"
    assert SectionPaths.of(headings[1:]).at(10) == ""  # before the first heading
    assert SectionPaths.of(()).at(5) == ""
