"""Loaders: every supported type, and a clear error for every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from citegraph.ingest.loaders import IngestError, load_document
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
