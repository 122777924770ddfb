"""Sentence splitting and chunking: exact spans, sizes, overlap, paragraphs."""

from __future__ import annotations

import itertools
import random

import pytest

from citegraph.ingest.chunking import chunk_spans, paragraph_spans, sentence_spans


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_sentences_keep_abbreviations_initials_and_decimals_together() -> None:
    text = (
        "Mr. Holmes met Dr. Watson on Baker St. in 1881. He paid 3.5 pounds! A. Conan Doyle wrote it. Done?"
    )
    assert texts(text, sentence_spans(text)) == [
        "Mr. Holmes met Dr. Watson on Baker St. in 1881.",
        "He paid 3.5 pounds!",
        "A. Conan Doyle wrote it.",
        "Done?",
    ]


def test_sentences_handle_quotes_and_hard_wrapped_lines() -> None:
    text = '"I shall be back," said he.\n"Wait!" she cried. And then\nhe left.\n\nNew paragraph'
    assert texts(text, sentence_spans(text)) == [
        '"I shall be back," said he.',
        '"Wait!" she cried.',
        "And then\nhe left.",
        "New paragraph",
    ]


def test_a_list_item_starts_a_sentence_even_after_no_full_stop() -> None:
    text = "Targets are searched:\n1. First, in the file, if not found\n2. Then, in the project"
    text += "\n* a bullet\n- another"
    assert texts(text, sentence_spans(text)) == [
        "Targets are searched:",
        "1.",
        "First, in the file, if not found",
        "2.",
        "Then, in the project",
        "* a bullet",
        "- another",
    ]
    # One number opening a line is a wrapped sentence's end (a PDF line), not a list.
    wrapped = "It grew by a factor of\n2. The next step was cheap."
    assert texts(wrapped, sentence_spans(wrapped)) == [
        "It grew by a factor of\n2.",
        "The next step was cheap.",
    ]


def test_paragraphs_split_on_blank_lines_only() -> None:
    text = "one\nline two\n\n\n  second para \n \nthird"
    assert texts(text, paragraph_spans(text)) == ["one\nline two", "second para", "third"]


def test_a_code_block_is_one_sentence_of_one_paragraph() -> None:
    code = '```python\nclient = TestClient(app)\n\n# Set headers. Then send.\nclient.get("/")\n```'
    text = f"To set headers you can do:\n{code}\nIt works. Really."
    assert texts(text, sentence_spans(text)) == ["To set headers you can do:", code, "It works.", "Really."]
    assert texts(text, paragraph_spans(text)) == [text]
    # On one line (as a quoted answer has it), nothing inside the fences ends a sentence.
    flat = "Do this: ```python x = 1. Then y. ``` It works."
    assert texts(flat, sentence_spans(flat)) == ["Do this: ```python x = 1. Then y. ``` It works."]
    # An unclosed fence (a chunk cut inside a long block) runs to the end.
    assert texts("Run it:\n```sh\nmake. Now.", sentence_spans("Run it:\n```sh\nmake. Now.")) == [
        "Run it:",
        "```sh\nmake. Now.",
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunks_are_exact_bounded_overlapping_and_cover_all_text(seed: int) -> None:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    paragraphs = []
    for _ in range(30):
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(3, 25))).capitalize() + rng.choice(".!?")
            for _ in range(rng.randint(1, 6))
        ]
        paragraphs.append(" ".join(sentences))
    text = "\n\n".join(paragraphs)
    size, overlap = 300, 60
    spans = chunk_spans(text, size, overlap)
    assert all(b - a <= size for a, b in spans)
    assert all(text[a:b] == text[a:b].strip() and b > a for a, b in spans)
    # Every sentence lies wholly inside some chunk: nothing is lost and nothing is cut mid-sentence.
    for s_start, s_end in sentence_spans(text):
        assert any(a <= s_start and s_end <= b for a, b in spans)
    # Chunks move forward, and consecutive chunks overlap by at most `overlap` characters.
    for (a1, b1), (a2, b2) in itertools.pairwise(spans):
        assert a2 > a1 and b2 > b1
        assert b1 - a2 <= overlap


def test_chunks_prefer_paragraph_ends() -> None:
    first = "The first paragraph is here. " * 6  # ~174 chars
    second = "The second paragraph follows on and on. " * 5  # ~200 chars
    text = first.strip() + "\n\n" + second.strip()
    spans = chunk_spans(text, size=300, overlap=0)
    assert texts(text, spans)[0] == first.strip()


def test_a_sentence_longer_than_a_chunk_is_cut_at_spaces_and_unbroken_text_hard() -> None:
    long_sentence = " ".join(["word"] * 200) + "."
    spans = chunk_spans(long_sentence, size=100, overlap=0)
    assert all(b - a <= 100 for a, b in spans)
    assert all(not long_sentence[a:b].startswith("ord") for a, b in spans)  # cut between words
    thai = "ก" * 1000  # Thai has no spaces between words
    spans = chunk_spans(thai, size=300, overlap=0)
    assert sum(b - a for a, b in spans) == 1000 and all(b - a <= 300 for a, b in spans)


def test_offsets_inside_a_region() -> None:
    text = "Page one text.\n\nPage two has this sentence. And this one."
    region_start = text.index("Page two")
    spans = chunk_spans(text, size=200, overlap=0, start=region_start, end=len(text))
    assert texts(text, spans) == ["Page two has this sentence. And this one."]
