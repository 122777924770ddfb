"""Loaders: every supported type, and a clear error for every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from citegraph.answers import cite
from citegraph.ingest.chunking import sentence_spans
from citegraph.ingest.loaders import IngestError, LoadedDocument, load_document
from citegraph.ingest.pipeline import prepare
from citegraph.retrieval.manifest import Manifest, SourceRecord
from tests.conftest import write_pdf

MB = 10**6


def load(path: Path, max_bytes: int = MB) -> object:
    return load_document(path, max_bytes)


def test_text_and_markdown(tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("Harbour Notes\r\n\r\nThe tide turns at noon.\r\n", encoding="utf-8")
    doc = load(txt)
    assert doc.kind == "text" and doc.title == "Harbour Notes"
    assert doc.text == "Harbour Notes\n\nThe tide turns at noon.\n" and not doc.warnings
    md = tmp_path / "guide.md"
    md.write_text("\ufeff# Field Guide\n\nOwls hunt at night.\n", encoding="utf-8")
    doc = load(md)
    assert doc.kind == "markdown" and doc.title == "Field Guide" and doc.text.startswith("# Field Guide")


def test_non_utf8_text_is_decoded_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Café au lait, crème brûlée, garçon: déjà vu à la française.\n".encode("cp1252"))
    doc = load(path)
    assert "Café" in doc.text and "brûlée" in doc.text
    assert doc.warnings and "not UTF-8" in doc.warnings[0]


def test_html_visible_text_title_and_blocks(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Comet Report</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Comets</h1><p>Halley's comet returns every "
        "<b>76</b> years.</p><p>Its last visit was in 1986.</p></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.kind == "html" and doc.title == "Comet Report"
    assert "secret" not in doc.text and "color" not in doc.text
    assert "Halley's comet returns every 76 years." in doc.text
    assert "\n\nIts last visit was in 1986." in doc.text


def test_pdf_keeps_pages(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "r.pdf", ["Alpha page text.", "Bridge opened in 1932."], title="Bridge Report"
    )
    doc = load(path)
    assert doc.kind == "pdf" and doc.title == "Bridge Report"
    assert [p.number for p in doc.pages] == [1, 2]
    second = doc.pages[1]
    assert doc.text[second.start : second.end] == "Bridge opened in 1932."


def write_report_pdf(path: Path) -> Path:
    """Three pages under a running header and a "Page N" footer, a title in a large font on page 1 (the
    metadata title is a Word file name), numbered section headings, words hyphenated at line ends and a
    table-of-contents line."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Microsoft Word - kestrel.docx")
    bodies = [
        "1 Introduction\nThe Kestrel bridge was built be-\ncause the old ford flooded every spring.\n"
        "Its fault-\ntolerant deck survived three floods.",
        "2 Construction\nEngineers ran tri-\nals with scale models before the span was cast.\n"
        "Maintenance ........ 3",
        "3 Maintenance\nThe deck is inspected every year. The cables were replaced in 1998.",
    ]
    for number, body in enumerate(bodies, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, "Kestrel Engineering Review", new_x="LMARGIN", new_y="NEXT")
        if number == 1:
            pdf.set_font("Helvetica", size=20)
            pdf.multi_cell(0, 10, "The Kestrel Bridge", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, f"Page {number}", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def stored(tmp_path: Path, doc: LoadedDocument) -> SourceRecord:
    """``doc`` written to a manifest and read back, as citations read it."""
    manifest = Manifest(tmp_path / "manifest.sqlite")
    record = SourceRecord(
        "s1",
        str(doc.path),
        doc.kind,
        doc.title,
        doc.content_hash,
        doc.text,
        (),
        0.0,
        doc.headings,
        doc.line_map,
    )
    manifest.replace_sources([], [record], [], {})
    read = manifest.source("s1")
    manifest.close()
    assert read is not None
    return read


def test_pdf_text_is_cleaned_and_citations_stay_exact(tmp_path: Path, settings) -> None:
    path = write_report_pdf(tmp_path / "kestrel.pdf")
    doc = load(path)
    assert doc.title == "The Kestrel Bridge"  # from page 1's largest font: the metadata title is junk
    assert "Kestrel Engineering Review" not in doc.text and "Page " not in doc.text and "...." not in doc.text
    assert "built because the old" in doc.text and "fault-tolerant deck" in doc.text
    assert "ran trials with" in doc.text
    assert [(h.title, h.level) for h in doc.headings] == [
        ("1 Introduction", 1),
        ("2 Construction", 1),
        ("3 Maintenance", 1),
    ]
    for heading in doc.headings:  # a paragraph of its own: never the start of an answer sentence
        assert doc.text[heading.offset :].startswith(heading.title + "\n\n")
    assert [doc.text[p.start : p.end].split("\n")[0] for p in doc.pages] == [
        "The Kestrel Bridge",
        "2 Construction",
        "3 Maintenance",
    ]
    assert doc.text.startswith("The Kestrel Bridge\n\n1 Introduction\n\nThe Kestrel bridge was built")

    source, _ = prepare(path, path.read_bytes(), settings)
    record = stored(tmp_path, doc)
    assert record.text == source.record.text == doc.text
    locations = set()
    for n, chunk in enumerate(source.chunks, start=1):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        for a, b in sentence_spans(chunk.text):
            citation = cite(
                n, chunk.chunk_id, str(path), record.text, chunk.start + a, chunk.start + b, chunk.page
            )
            assert citation["quote"] == doc.text[citation["start"] : citation["end"]] == chunk.text[a:b]
            locations.add(citation["location"])
    assert {"p. 1, § 1 Introduction", "p. 2, § 2 Construction", "p. 3, § 3 Maintenance"} <= locations


def test_pdf_title_falls_back_to_the_file_name_not_a_heading(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "notes.pdf", ["1 Overview\nThe tide turns at noon."])
    assert load(path).title == "notes"


def test_html_location_is_the_heading_and_the_files_line(tmp_path: Path) -> None:
    path = tmp_path / "harbour.html"
    path.write_text(
        "<html>\n<head><title>Harbour Guide</title>\n<style>p { color: red }</style></head>\n<body>\n"
        "<h1>Harbour Guide</h1>\n<p>Welcome to the &amp; harbour.</p>\n\n\n\n"
        "<h2>4.6 Handling <em>Failures</em></h2>\n<p>\nWhen a crane fails,\nthe harbour master closes\n"
        "<b>berth nine</b> until repairs end.\n</p>\n</body>\n</html>\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert [(h.title, h.level) for h in doc.headings] == [("Harbour Guide", 1), ("4.6 Handling Failures", 2)]
    record = stored(tmp_path, doc)
    start = doc.text.index("the harbour master")
    end = doc.text.index("repairs end.") + len("repairs end.")
    assert cite(1, "c", str(path), record.text, start, end, None)["location"] == (
        "§ 4.6 Handling Failures, lines 13-14"
    )
    welcome = doc.text.index("Welcome")
    assert (
        cite(1, "c", str(path), record.text, welcome, welcome + 7, None)["location"]
        == "§ Harbour Guide, line 6"
    )


def test_markdown_headings_set_apart_with_the_files_lines(tmp_path: Path) -> None:
    path = tmp_path / "owls.md"
    path.write_text(
        "# Field Guide\nOwls hunt at night.\n\n```\n# not a heading\n```\n"
        "## Feeding\nOwls swallow mice whole.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Field Guide"
    assert (
        doc.text.startswith("# Field Guide\n\nOwls hunt at night.")
        and "```\n\n## Feeding\n\nOwls" in doc.text
    )
    assert [(h.title, h.level) for h in doc.headings] == [("Field Guide", 1), ("Feeding", 2)]
    record = stored(tmp_path, doc)
    start = doc.text.index("Owls swallow")
    assert cite(1, "c", str(path), record.text, start, start + 23, None)["location"] == "§ Feeding, line 8"
    start = doc.text.index("Owls hunt")
    assert cite(1, "c", str(path), record.text, start, start + 9, None)["location"] == "§ Field Guide, line 2"


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", ["Readable by anyone."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    locked = tmp_path / "owner.pdf"
    writer.write(locked)
    assert "Readable by anyone." in load(locked).text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"   \n\n\t  ", "empty file"),
        ("image.txt", bytes(range(256)) * 8, "binary file"),
        ("fake.pdf", b"this is not a pdf at all", "not a PDF"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage garbage", "PDF"),
        ("photo.png", b"\x89PNG\r\n", "unsupported file type '.png'"),
        # html.parser rejects this marked section (bs4's ParserRejectedMarkup, several lines long).
        ("word.html", b"<p>Hi</p><![ if !supportLists ]><p>item</p>", "malformed HTML the parser rejects"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError) as info:
        load(path)
    assert reason in info.value.reason
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_encrypted_pdf_needs_a_password(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", ["Top secret plans."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="hunter2", algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    with pytest.raises(IngestError, match="encrypted PDF"):
        load(locked)


def test_truncated_pdf_is_reported_not_crashing(tmp_path: Path) -> None:
    good = write_pdf(tmp_path / "good.pdf", ["Some words on a page. " * 20])
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(IngestError, match="PDF"):
        load(truncated)


def test_missing_directory_and_oversized(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        load(tmp_path / "nope.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(IngestError, match="not a regular file"):
        load(folder)
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    with pytest.raises(IngestError, match="over the"):
        load_document(big, max_bytes=1000)


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("classified")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)  # tests run as root, where chmod 000 does not stop reads
    with pytest.raises(IngestError, match="permission denied"):
        load(path)


def test_a_symlink_loop_is_named_as_one(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    with pytest.raises(IngestError, match="symbolic link loop"):
        load(loop)


def test_markdown_page_opening_with_prose_is_titled_by_its_file(tmp_path: Path) -> None:
    # The first line runs on into the next one: a sentence cut at a comma is no title, and the first
    # section's heading would title only that section.
    path = tmp_path / "config.md"
    path.write_text(
        "Starlette separates configuration from code,\nfollowing the twelve-factor pattern.\n\n"
        "## Secrets\nSecrets are hidden.\n",
        encoding="utf-8",
    )
    assert load(path).title == "config"
    path.write_text("Owls hunt at night.\n\n## Feeding\nOwls swallow mice whole.\n", encoding="utf-8")
    assert load(path).title == "config"
    path.write_text("Owl notes\n\n## Feeding\nOwls swallow mice whole.\n", encoding="utf-8")
    assert load(path).title == "Owl notes"


def _justified_pdf(path: Path, lines: list[str], space_code_letter: str = "") -> Path:
    """A PDF whose ``lines`` (content-stream operators) are set in Helvetica 10: the caller spells out
    character spacing and kerning the way a typesetter justifying a line does. With
    ``space_code_letter``, the font has no space: the space's code shows that letter, 0.771 em wide (as
    in VM-FT's subset CMR9)."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
    )

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    if space_code_letter:
        to_unicode = DecodedStreamObject()
        to_unicode.set_data(
            (
                "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
                "1 begincodespacerange <00> <FF> endcodespacerange\n"
                f"1 beginbfchar <20> <{ord(space_code_letter):04X}> endbfchar\n"
                "1 beginbfrange <21> <7E> <0021> endbfrange\n"
                "endcmap CMapName currentdict /CMap defineresource pop end end\n"
            ).encode("ascii")
        )
        font[NameObject("/ToUnicode")] = writer._add_object(to_unicode)
        font[NameObject("/FirstChar")] = NumberObject(32)
        font[NameObject("/LastChar")] = NumberObject(126)
        font[NameObject("/Widths")] = ArrayObject([NumberObject(771)] + [NumberObject(500)] * 94)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    body = "".join(f"BT /F1 10 Tf 72 {700 - 14 * i} Td {line} ET\n" for i, line in enumerate(lines))
    stream.set_data(body.encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as out:
        writer.write(out)
    return path


def _kerned(words: list[str], spacing_in_thousandths: int) -> str:
    """A TJ array setting ``words`` one glyph at a time, the character spacing taken back inside words."""
    parts = []
    for w, word in enumerate(words):
        glyphs = [f"({c})" for c in word]
        parts.append(f" {spacing_in_thousandths} ".join(glyphs))
        if w < len(words) - 1:
            parts.append("0")  # between words the spacing stays: the gap a reader sees
    return "[" + " ".join(parts) + "] TJ"


def test_words_a_justified_line_spaces_by_character_spacing_stay_apart(tmp_path: Path) -> None:
    # GFS's justified lines: "0.26 Tc [(A) 0 (c) 288 (h) 282 ...] TJ"; pypdf alone reads them as
    # "Achunkisbrokenupinto64KBblocks.".
    line = "2.6 Tc " + _kerned("A chunk is broken up into blocks.".split(), 260)
    shown = "2.6 Tc [(TITLE)] TJ"  # spaced out for show, no kerning taking it back: one word
    doc = load(_justified_pdf(tmp_path / "j.pdf", [line, "0 Tc [(Each has a checksum.)] TJ", shown]))
    assert "A chunk is broken up into blocks." in doc.text
    assert "Each has a checksum." in doc.text and "TITLE" in doc.text
    from pypdf import PdfReader

    plain = PdfReader(tmp_path / "j.pdf").pages[0].extract_text()
    assert "Achunkisbrokenupintoblocks." in plain  # what pypdf alone gives
    assert "".join(doc.text.split()) == "".join(plain.split())  # whitespace is all that differs


def test_words_in_a_font_without_a_space_glyph_stay_apart(tmp_path: Path) -> None:
    # VM-FT's CMR9 has "H" at the space's code: pypdf takes its width for a space's and waits for a gap of
    # half an "H", so a line's words run together ("Wehaveimplementedacommercialenterprise").
    # " " shows as "H"; kerning of 30 and -30 inside words, -160 to -400 between them.
    line = "[( e) 30 (re) -300 (i) -30 (s) -240 (a) -400 (line) -160 (of) -350 (words.)] TJ"
    doc = load(_justified_pdf(tmp_path / "h.pdf", [line], space_code_letter="H"))
    assert "Here is a line of words." in doc.text
    from pypdf import PdfReader

    plain = PdfReader(tmp_path / "h.pdf").pages[0].extract_text()
    assert "Hereisa lineofwords." in plain  # pypdf alone breaks only at the widest gap
    assert "".join(doc.text.split()) == "".join(plain.split())


def test_a_page_whose_text_is_drawn_twice_is_read_once(tmp_path: Path) -> None:
    # VM-FT places each page's PDF twice, one copy hidden: pypdf reads every line twice, and two of an
    # answer's five passages said the same.
    page = [
        f"[({line})] TJ"
        for line in (
            "The primary VM sends its log entries to the backup.",
            "The backup replays them and stays in lockstep.",
            "Output is delayed until the backup acknowledges it.",
            "A failure is detected by heartbeats and traffic.",
            "Table 1: results.",
        )
    ]
    doc = load(_justified_pdf(tmp_path / "twice.pdf", page + page))
    assert doc.text.count("The backup replays them and stays in lockstep.") == 1
    assert doc.text.count("Table 1: results.") == 1
    # A page showing some of its lines again (code shown twice, a figure's labels) is kept whole.
    code = ["[((define \\(f x\\) (g x)))] TJ", "[((interp \\(closV-body f-value\\)))] TJ"]
    prose = [f"[(Paragraph {n} of the chapter says something new.)] TJ" for n in range(5)]
    doc = load(_justified_pdf(tmp_path / "code.pdf", code + prose + code))
    assert doc.text.count("(interp (closV-body f-value))") == 2


def _bitmap_font_pdf(path: Path, body: str) -> Path:
    """A PDF set in a Type3 font the way dvips embeds TeX's bitmap fonts: widths in the font's own glyph
    space (a 1:1 ``/FontMatrix``, 30 units a glyph), a tiny font size, no glyph at the space's code, digits
    and the comma named by their own characters ("/6", "/,") and "fi" by its OT1 code ("/\\x0c"); a
    ToUnicode map for the letters only."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
    )

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    to_unicode = DecodedStreamObject()
    to_unicode.set_data(
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"2 beginbfrange <41> <5A> <0041> <61> <7A> <0061> endbfrange\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end\n"
    )
    glyph = DecodedStreamObject()
    glyph.set_data(b"30 0 0 0 20 30 d1")
    named = {12: "/\x0c", 44: "/,", **{48 + d: f"/{d}" for d in range(10)}}
    named |= {c: f"/{chr(c)}" for c in [*range(65, 91), *range(97, 123)]}
    differences = ArrayObject()
    for code, name in sorted(named.items()):
        differences += [NumberObject(code), NameObject(name)]
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type3"),
            NameObject("/FontBBox"): ArrayObject([NumberObject(0)] * 2 + [NumberObject(30)] * 2),
            NameObject("/FontMatrix"): ArrayObject(
                [
                    FloatObject(1),
                    FloatObject(0),
                    FloatObject(0),
                    FloatObject(-1),
                    FloatObject(0),
                    FloatObject(0),
                ]
            ),
            NameObject("/CharProcs"): DictionaryObject(
                {NameObject(name): writer._add_object(glyph) for name in named.values()}
            ),
            NameObject("/Encoding"): DictionaryObject(
                {NameObject("/Type"): NameObject("/Encoding"), NameObject("/Differences"): differences}
            ),
            NameObject("/FirstChar"): NumberObject(12),
            NameObject("/LastChar"): NumberObject(122),
            NameObject("/Widths"): ArrayObject(
                NumberObject(30 if code in named else 0) for code in range(12, 123)
            ),
            NameObject("/ToUnicode"): writer._add_object(to_unicode),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/R8"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /R8 0.24 Tf 72 700 Td {body} ET\n".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as out:
        writer.write(out)
    return path


def test_an_old_tex_papers_bitmap_fonts_read_as_words(tmp_path: Path) -> None:
    # Agrawal and Srikant's Apriori paper, as pypdf alone reads it: "F ast Algorithms for Mining Asso
    # ciation Rules", "/6/5/0 Harry Road/,": glyph widths read 1,000 times too narrow, and glyph names it
    # does not know shown as written.
    # "F" and "ast" set apart, abutting (a glyph is 30 units at 0.24); kerning -2000 inside a word, -16000
    # between words.
    body = "[(F)] TJ 7.2 0 Td [(ast)] TJ 25.2 0 Td [(Asso) -2000 (ciation) -16000 (\\014ne) -16000 (650,)] TJ"
    doc = load(_bitmap_font_pdf(tmp_path / "apriori.pdf", body))
    assert "Fast Association fine 650," in doc.text
    from pypdf import PdfReader

    plain = PdfReader(tmp_path / "apriori.pdf").pages[0].extract_text()
    assert "F ast" in plain and "Asso ciation" in plain and "/6/5/0/," in plain


def test_bitmap_glyphs_named_by_their_code_get_names_pypdf_knows() -> None:
    from citegraph.ingest.pdf_text import glyph_names_by_code

    # dvips names a glyph by its code's character; "\x0c" is OT1's "fi" in a text font (one with a comma).
    assert glyph_names_by_code(["/6", "/,", "/\x0c", "/a"]) == {
        "/6": "/uni0036",
        "/,": "/uni002C",
        "/\x0c": "/fi",
    }
    assert glyph_names_by_code(["/\x0c", "/a"]) == {}  # a math font: code 12 is a Greek letter
    # Others name it by the code's decimal value ("/68" is "D"); "/0" is then code 0, no character.
    assert glyph_names_by_code(["/68", "/101", "/0", "/12", "/44"]) == {
        "/68": "/uni0044",
        "/101": "/uni0065",
        "/12": "/fi",
        "/44": "/uni002C",
    }


def test_a_bitmap_font_shared_by_pages_is_mended_once() -> None:
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject

    from citegraph.ingest.pdf_text import _repair_bitmap_fonts

    differences = ArrayObject([NumberObject(0), NameObject("/68"), NameObject("/0"), NameObject("/101")])
    font = DictionaryObject(
        {
            NameObject("/Subtype"): NameObject("/Type3"),
            NameObject("/FontMatrix"): ArrayObject([FloatObject(x) for x in (1, 0, 0, -1, 0, 0)]),
            NameObject("/FirstChar"): NumberObject(0),
            NameObject("/Widths"): ArrayObject([NumberObject(30)] * 3),
            NameObject("/Encoding"): DictionaryObject({NameObject("/Differences"): differences}),
        }
    )
    page = DictionaryObject(
        {
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F"): font})}
            )
        }
    )
    for _ in range(2):  # two pages sharing the font
        _repair_bitmap_fonts(page)
    assert [str(x) for x in differences[1:]] == ["/uni0044", "/0", "/uni0065"]  # "/0" is code 0, no digit
    assert [float(w) for w in font["/Widths"]][:3] == [30_000.0] * 3
