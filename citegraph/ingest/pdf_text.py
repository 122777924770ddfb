"""A PDF page's text as pypdf reads it, with what pypdf misreads mended.

pypdf reads most PDFs well; the papers users bring trip it in a few known ways, each mended here, in
memory (the file is never written):

- words run together where a justified line's character spacing separates them (GFS) or the font has no
  space glyph (VM-FT's CMR9): ``_with_word_gaps_as_kerning``;
- an old TeX paper's bitmap (Type3) fonts: glyph widths read 1,000 times too narrow, so words break apart
  ("Asso ciation"), and glyphs named by their code shown as written ("/6/5/0"): ``_repair_bitmap_fonts``;
- a page whose text is drawn twice (VM-FT) read twice: ``without_second_copy``.

``benchmarks/pdf_text.py`` counts each fault per PDF, side by side with an earlier version.
"""

from __future__ import annotations

import math
import re
from typing import Any

# A word gap in a TJ array of a font without a space glyph: kerning back by at least this much (thousandths
# of the font size). pypdf's own threshold for a font whose space is a third of an em (TeX's) is about 0.16
# em; kerning inside a word stays within a tenth of one, and word gaps of a justified line run from 0.22
# em up (VM-FT's CMR9: -30 to 80 inside words, -230 to -960 between them).
WORD_GAP_KERNING = -150


def _has_no_space_glyph(font: Any) -> tuple[bool, float]:
    """Whether pypdf takes ``font``'s space width from a glyph that is not a space, and that width.

    A subset font may have no space and put a letter at the space's code (VM-FT's CMR9 has "H" there, 0.771
    em wide): pypdf then waits for a gap of half an "H" before it reads a word break, and most of a
    line's words run together ("Wehaveimplementedacommercialenterprise")."""
    try:
        from pypdf.generic._font import Font  # pypdf's own reading of a font (a private module)

        reading = Font.from_font_resource(font.get_object())
    # A font pypdf cannot read (or a pypdf that reads fonts elsewhere) keeps pypdf's word breaks.
    except Exception:
        return False, 0.0
    return reading.character_map.get(reading.space_char, " ") != " ", float(reading.space_width)


def _with_word_gaps_as_kerning(page: Any, reader: Any) -> bool:
    """Rewrite ``page``'s content (in memory) so that pypdf sees the gaps between words; whether anything
    changed.

    A justified line may be set with a character spacing (``Tc``) added after every glyph and taken back
    inside words by kerning (GFS: ``0.26 Tc [(Ac) 288 (h) 282 (u) ...] TJ``). pypdf reads only the kerning
    for word breaks and runs the words together ("Achunkisbrokenupinto64KBblocks."). Here the spacing is
    folded into the kerning of such arrays, one glyph at a time, so a word break reads as the space it is.
    Only a widening spacing, only simple fonts (one byte a glyph), and only arrays whose kerning does take
    the spacing back: letters spaced out for show stay one word. And in a font without a space glyph
    (``_has_no_space_glyph``), each kerning of at least ``WORD_GAP_KERNING`` is widened to the width pypdf
    takes for a space. The strings keep their bytes (parsed as "bytes", the stream is never written back),
    so the text differs from pypdf's own by whitespace only."""
    from pypdf.generic import ArrayObject, ByteStringObject, ContentStream, FloatObject, NameObject

    contents = page.get_contents()
    if contents is None:
        return False
    content = ContentStream(contents, reader, "bytes")
    fonts = (page.get("/Resources") or {}).get("/Font") or {}
    spaceless: dict[str, tuple[bool, float]] = {}  # per font name, read when a line first uses it
    spacing, size, simple, changed = 0.0, 1.0, True, False
    gap: float | None = None  # the kerning pypdf reads as a space, in a font without a space glyph
    for k, (operands, operator) in enumerate(content.operations):
        if operator == b"Tc" and operands:
            spacing = float(operands[0])
        elif operator == b"Tf" and len(operands) >= 2:
            size = float(operands[1]) or 1.0
            font = fonts.get(operands[0])
            simple = font is not None and font.get_object().get("/Subtype") != "/Type0"
            if font is not None and operands[0] not in spaceless:
                spaceless[operands[0]] = _has_no_space_glyph(font)
            no_space, width = spaceless.get(operands[0], (False, 0.0))
            gap = -width if no_space else None
        elif operator != b"TJ" or not operands or not isinstance(operands[0], ArrayObject):
            continue
        elif gap is not None:
            widened = [
                FloatObject(gap) if isinstance(x, (int, float)) and WORD_GAP_KERNING >= x > gap else x
                for x in operands[0]
            ]
            if widened != list(operands[0]):
                content.operations[k] = ([ArrayObject(widened)], operator)
                changed = True
        elif spacing > 0 and simple:
            shift = spacing * 1000 / size  # the spacing in the kerning's unit, thousandths of the font size
            kerning = [float(x) for x in operands[0] if isinstance(x, (int, float))]
            if not kerning or sorted(kerning)[len(kerning) // 2] < shift / 2:
                continue
            folded: list[Any] = []
            for item in operands[0]:
                if isinstance(item, bytes):
                    for i in range(len(item)):
                        folded += [ByteStringObject(item[i : i + 1]), FloatObject(-shift)]
                elif isinstance(item, (int, float)) and folded and isinstance(folded[-1], FloatObject):
                    folded[-1] = FloatObject(float(folded[-1]) + float(item))
                else:
                    folded.append(item)
            content.operations[k] = ([ArrayObject(folded)], operator)
            changed = True
    # The parsed stream goes on the page whether or not anything changed: pypdf reads it as it is instead
    # of parsing the page's content a second time.
    page[NameObject("/Contents")] = content
    return changed


SPACE_CODE = 32
# The key marking a font mended in memory: a shared font's renamed glyphs must not be read again ("/0",
# code 0 among decimal names, would pass for the digit once its neighbours are renamed).
MENDED = "/CiteGraphMended"
# The bitmap fonts of old TeX papers name each glyph by its code in the TeX font: by the code's character
# (dvips: "/6", "/,", "/\x0c") or by its decimal value ("/54", "/44", "/12"). In a text font (OT1) codes
# 11 to 15 are the ligatures; in a math font they are Greek letters, so a font counts as text only when it
# sets a comma or a full stop at their ASCII codes (44, 46), which the math fonts use for symbols.
OT1_LIGATURES = {11: "/ff", 12: "/fi", 13: "/fl", 14: "/ffi", 15: "/ffl"}


def glyph_names_by_code(names: list[str]) -> dict[str, str]:
    """Names pypdf knows ("/uni0036", "/fi") for the glyph ``names`` of one font that name a glyph by its
    code in a TeX font, which pypdf shows as written ("/6/5/0", "/54/53/48"): codes of printable ASCII
    characters, and the ligatures in a text font. Names pypdf knows already, and the rest, are left."""
    from pypdf._codecs import adobe_glyphs  # pypdf's glyph list (a private module)

    decimal = any(len(name) > 2 and name[1:].isdigit() for name in names)
    codes = {}
    for name in names:
        if name in adobe_glyphs and not decimal:
            continue
        if decimal and name[1:].isdigit():
            codes[name] = int(name[1:])
        elif not decimal and len(name) == 2:
            codes[name] = ord(name[1])
    text_font = bool({44, 46} & set(codes.values()))
    renamed = {}
    for name, code in codes.items():
        if 32 < code < 127:
            renamed[name] = f"/uni{code:04X}"
        elif code in OT1_LIGATURES and text_font:
            renamed[name] = OT1_LIGATURES[code]
    return renamed


def _repair_bitmap_fonts(page: Any) -> None:
    """Mend, in memory, what pypdf misreads in the Type3 fonts of old TeX papers (dvips's bitmap fonts):

    - their ``/Widths`` are in the font's own glyph space (``/FontMatrix``, often 1:1 with text space),
      which pypdf reads as thousandths: every glyph looks 1,000 times too narrow, and a space is read
      between any two pieces of a word ("Asso ciation Rules", "Rak esh Agra w al"). The widths are scaled
      to thousandths, and the matrix with them;
    - glyphs named by their code ("/6", "/,"), which pypdf shows as written ("/6/5/0 Harry Road/,"), are
      renamed by ``glyph_names_by_code``.

    A font shared by pages is mended once: it is marked (``MENDED``) in memory."""
    from pypdf.generic import ArrayObject, BooleanObject, FloatObject, NameObject, NumberObject

    fonts = (page.get("/Resources") or {}).get("/Font") or {}
    for reference in fonts.values():
        font = reference.get_object()
        if font.get("/Subtype") != "/Type3" or MENDED in font:
            continue
        font[NameObject(MENDED)] = BooleanObject(True)
        matrix, widths = font.get("/FontMatrix"), font.get("/Widths")
        if matrix and widths and float(matrix[0]) not in (0.0, 0.001):
            scale = float(matrix[0]) * 1000
            scaled = [float(w) * scale for w in widths.get_object()]
            # Without a glyph at the space's code pypdf takes 200 thousandths for a space, far below these
            # fonts' kerning inside words; its own fallback for a font without a space width is half the
            # average glyph's, which the space's code is given.
            first = int(font.get("/FirstChar", 0))
            drawn = [w for w in scaled if w > 0]
            if drawn and not (first <= SPACE_CODE < first + len(scaled) and scaled[SPACE_CODE - first] > 0):
                space = sum(drawn) / len(drawn) / 2
                if first > SPACE_CODE:
                    scaled = [space] + [0.0] * (first - SPACE_CODE - 1) + scaled
                    font[NameObject("/FirstChar")] = NumberObject(SPACE_CODE)
                elif SPACE_CODE - first < len(scaled):
                    scaled[SPACE_CODE - first] = space
            font[NameObject("/Widths")] = ArrayObject(FloatObject(w) for w in scaled)
            font[NameObject("/FontMatrix")] = ArrayObject(
                [FloatObject(0.001), *(FloatObject(float(x) / scale) for x in matrix[1:4]), *matrix[4:]]
            )
        encoding = font.get("/Encoding")
        encoding = encoding.get_object() if encoding is not None else None
        differences = encoding.get("/Differences") if hasattr(encoding, "get") else None
        if differences is None:
            continue
        differences = differences.get_object()
        renamed = glyph_names_by_code([str(item) for item in differences if isinstance(item, NameObject)])
        for i, item in enumerate(differences):
            if isinstance(item, NameObject) and str(item) in renamed:
                differences[i] = NameObject(renamed[str(item)])


def page_text(page: Any, reader: Any, visitor_text: Any = None) -> str:
    """A pypdf page's text, with what pypdf alone misreads mended (``_repair_bitmap_fonts``,
    ``_with_word_gaps_as_kerning``); ``visitor_text`` is pypdf's."""
    try:
        _repair_bitmap_fonts(page)
        folded = _with_word_gaps_as_kerning(page, reader)
    # An odd font or content stream must cost the mending, not the page: pypdf's own reading follows.
    except Exception:
        folded = False
    text = page.extract_text(visitor_text=visitor_text) or ""
    # Folded spacing after a line's last glyph reads as a space before its line break.
    return re.sub(r"[ \t]+\n", "\n", text) if folded else text


# A page's text drawn twice: at least this share of its lines of ``LONG_LINE`` characters or more repeat a
# line earlier on the page. VM-FT's pages: 0.50 each. Of 192 other papers (papers-we-love), most pages
# repeat none, a textbook's pages showing code again at most 0.12; the few pages past 0.4 are two plots
# with the same axis labels, a form's rules of underscores and a page of code, where only repeats go.
REPEATED_SHARE = 0.4
LONG_LINE = 20


def without_second_copy(text: str) -> str:
    """A page's ``text`` read once where the page draws it twice (``REPEATED_SHARE``): VM-FT places each
    page's PDF twice, one copy hidden, and pypdf reads both, so every passage would be stored and retrieved
    twice, and two of an answer's five passages would say the same. Every line that repeats an earlier one
    goes; a page that merely repeats some of its lines (code shown again, a figure's labels) is kept
    whole."""
    lines = text.split("\n")
    long_lines = [line.strip() for line in lines if len(line.strip()) >= LONG_LINE]
    if not long_lines or len(long_lines) - len(set(long_lines)) < REPEATED_SHARE * len(long_lines):
        return text
    seen: set[str] = set()
    kept = []
    for line in lines:
        key = line.strip()
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return "\n".join(kept)


def text_and_font_sizes(page: Any, reader: Any) -> tuple[str, list[tuple[float, str]]]:
    """A pypdf page's text (``page_text``) and its ``(font size in points, text)`` fragments in reading
    order."""
    fragments: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        # The size a reader sees: the font size scaled vertically by the text and transformation matrices.
        fragments.append((round(size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]), 1), text))

    return page_text(page, reader, visit), fragments
