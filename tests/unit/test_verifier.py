"""The citation verifier's rules, with a tiny random judge whose support threshold the test sets: what
the verifier decides itself (markers, names and numbers, verbatim quotes) must not depend on the model.
The shipped judge's own verdicts are tested in tests/integration/test_judge_shipped.py."""

from __future__ import annotations

import pytest

from citegraph.agents.verifier import Verifier, entities, numbers, split_answer, verify_answer
from citegraph.models.judge.judge import Judge

SOURCES = {
    1: "To Sherlock Holmes she is always the woman. Irene Adler is an American opera singer, "
    "born in New Jersey in 1858.",
    2: "Dr. Watson shared rooms with Holmes at 221B Baker Street. The storm of 1923 sank nine ships.",
}


def judging(tiny_judge: Judge, support: float) -> Verifier:
    """A verifier whose judge says "supported" to every agreeing passage (0.0) or to none (1.01)."""
    return Verifier(Judge(tiny_judge.model, tiny_judge.tokenizer, thresholds={"support": support}))


@pytest.fixture
def lenient(tiny_judge: Judge) -> Verifier:
    return judging(tiny_judge, 0.0)


@pytest.fixture
def strict(tiny_judge: Judge) -> Verifier:
    return judging(tiny_judge, 1.01)


def test_split_answer_attaches_markers_to_their_sentences() -> None:
    assert split_answer("Adler sings [1]. Watson writes. [2] [3] Done") == [
        ("Adler sings [1].", "Adler sings.", (1,)),
        ("Watson writes [2] [3].", "Watson writes.", (2, 3)),
        ("Done", "Done", ()),
    ]


def test_a_quote_ending_in_an_ellipsis_keeps_its_marker() -> None:
    # Manuals end a sentence with "..." before an example; its marker after the dots is still its own.
    answer = "HTTPX does not follow redirects. [1] You need to do so explicitly... [2] Or use a client… [3]"
    assert [(claim, cites) for _, claim, cites in split_answer(answer)] == [
        ("HTTPX does not follow redirects.", (1,)),
        ("You need to do so explicitly...", (2,)),
        ("Or use a client…", (3,)),
    ]


def test_a_quoted_code_block_ends_the_claim_before_it() -> None:
    answer = 'Send: ```python\nhttpx.post(url, data={"a": 1})\n``` [1] ```python\nhttpx.get(url)\n``` [2]'
    assert [(claim, cites) for _, claim, cites in split_answer(answer)] == [
        ('Send: ```python httpx.post(url, data={"a": 1}) ```', (1,)),
        ("```python httpx.get(url) ```", (2,)),
    ]


def test_numbers_and_entities() -> None:
    assert numbers("nine sailors, 1,200 oars and 3.5 knots in 1923") == {"9", "1200", "3.5", "1923"}
    assert entities("The doctor met Irene Adler's maid. He saw Watson in London.") == {
        "irene",
        "adler",
        "watson",
        "london",
    }


@pytest.mark.parametrize(
    "answer",
    [
        "Irene Adler is an American opera singer [1].",
        "Irene Adler was born in New Jersey in 1858 [1]. Watson lived at 221B Baker Street [2].",
        "Irene Adler is a singer from America [1].",  # 'America' ~ 'American'
        "Nine ships were sunk by the storm of 1923 [1] [2].",  # one of two cited sources agrees
    ],
)
def test_agreeing_sentences_pass_when_the_judge_says_supported(lenient: Verifier, answer: str) -> None:
    result = lenient.verify(answer, SOURCES)
    assert result.verified, result.feedback()
    assert all(c.evidence and c.evidence_span for c in result.checks)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Watson is an American opera singer [1].", "does not mention 'watson'"),  # entity swapped
        ("Irene Adler was born in 1859 [1].", "does not mention '1859'"),  # number swapped
        ("The storm of 1923 sank ten ships [2].", "does not mention '10'"),  # number word swapped
        ("Watson is an American opera singer [2].", "does not mention 'american'"),  # wrong source
        ("Irene Adler is an American opera singer [3].", "cites [3], which is not a given source"),
        ("Irene Adler is an American opera singer.", "cites no source"),
        ("Irene Adler [1].", "a fragment, not a statement"),  # verbatim in [1], but says nothing
        ("Baker Street [2].", "a fragment, not a statement"),
    ],
)
def test_what_the_verifier_rejects_whatever_the_judge_says(
    lenient: Verifier, answer: str, reason: str
) -> None:
    result = lenient.verify(answer, SOURCES)
    assert not result.verified
    assert reason in result.checks[0].reason


def test_the_judge_decides_whether_an_agreeing_passage_says_it(strict: Verifier) -> None:
    result = strict.verify("Holmes enjoys playing the violin [2].", SOURCES)
    assert not result.verified
    assert "[2] does not say this (support" in result.checks[0].reason
    assert result.checks[0].evidence_span is not None and result.checks[0].evidence_span[0] == 2


def test_a_verbatim_quote_needs_no_judge(strict: Verifier) -> None:
    result = strict.verify("the storm of 1923 sank nine ships [2]", SOURCES)
    assert result.verified
    check = result.checks[0]
    assert check.support == 1.0
    n, start, end = check.evidence_span
    assert SOURCES[n][start:end].lower().startswith("the storm of 1923 sank nine ships")


def test_a_quoted_list_keeps_its_lines_through_verification(strict: Verifier) -> None:
    source = "Values are read in this order:\n\n* From an environment variable.\n* From the `.env` file."
    answer = (
        "Values are read in this order: [1]\n* From an environment variable. [1]\n* From the `.env` file. [1]"
    )
    result = strict.verify(answer, {1: source})
    assert result.verified and len(result.checks) == 3
    assert result.supported_text == (
        "Values are read in this order: [1]\n* From an environment variable [1].\n* From the `.env` file [1]."
    )


def test_unsupported_sentences_are_dropped_from_the_supported_text(lenient: Verifier) -> None:
    answer = (
        "Irene Adler is an opera singer [1]. Watson is an opera singer [1]. "
        "Watson lived at 221B Baker Street [2]."
    )
    result = lenient.verify(answer, SOURCES)
    assert [c.supported for c in result.checks] == [True, False, True]
    assert (
        result.supported_text == "Irene Adler is an opera singer [1]. Watson lived at 221B Baker Street [2]."
    )
    assert result.feedback() == "- \"Watson is an opera singer.\": [1] does not mention 'watson'"
    assert not lenient.verify("", SOURCES).verified


def test_verify_answer_takes_json_shaped_sources_and_rejects_bad_input(tiny_judge: Judge) -> None:
    judge = Judge(tiny_judge.model, tiny_judge.tokenizer, thresholds={"support": 0.0})
    result = verify_answer("Irene Adler is an opera singer [1].", {"1": SOURCES[1]}, judge)
    assert result.verified
    verdict = result.to_dict()
    assert verdict["verified"] is True
    assert verdict["sentences"][0]["evidence_span"]["source"] == 1
    with pytest.raises(ValueError, match="empty"):
        verify_answer("  ", {"1": "x"}, judge)
    with pytest.raises(ValueError, match="source numbers"):
        verify_answer("A [1].", {"one": "x"}, judge)


def test_a_quote_keeps_its_meaning_without_the_papers_own_references(strict: Verifier) -> None:
    """A paper's bracketed references are not what it says: the quote without them is still verbatim."""
    source = "MapReduce reads its input from the Google File System [8] and writes its output to it."
    check = strict.verify(
        "MapReduce reads its input from the Google File System and writes its output to it [1].", {1: source}
    )
    assert check.verified and check.checks[0].support == 1.0


def test_thai_claims_run_to_their_markers(strict: Verifier) -> None:
    """Thai has no full stops: each claim is the text up to its markers, however a splitter would cut it."""
    one, two = "ค่าผ่านสะพานสำหรับรถยนต์ให้เรียกเก็บคันละยี่สิบบาท", "ส่วนรถจักรยานยนต์ให้เรียกเก็บคันละห้าบาท"
    assert [c for _, c, _ in split_answer(f"{one} [1] {two} [2]")] == [one, two]
    assert strict.verify(f"{one} [1] {two} [2]", {1: one, 2: f"มาตรา ๓ {two}"}).verified


def test_a_cited_sentence_ends_even_before_a_lower_case_word() -> None:
    claims = [c for _, c, _ in split_answer("It runs on Linux. [1] chunk data flows to clients. [2]")]
    assert claims == ["It runs on Linux.", "chunk data flows to clients."]


def test_a_marker_before_a_capitalised_word_ends_a_quote_with_no_full_stop() -> None:
    # A quoted sentence may lack its own full stop (a line of a figure, a table cell): its marker ends it.
    claims = [c for _, c, _ in split_answer("The handle is chunk 2ef0 [1] GFS stores chunks as files [2].")]
    assert claims == ["The handle is chunk 2ef0", "GFS stores chunks as files."]
    # So does one before an option: a manual's option line quoted after a code block.
    answer = "Use the `-I` option: ``` fd -I num_cpu ``` [1] -I, --no-ignore Do not respect ignore files [2]"
    assert [m for _, _, m in split_answer(answer)] == [(1,), (2,)]
    # So does one right after a code block, whatever follows it.
    answer = "```python\nhttpx.get(url)\n``` [1] b'HIT'), (b'Content-Length', b'648')]) INFO httpx [2]"
    assert [m for _, _, m in split_answer(answer)] == [(1,), (2,)]
    # Markers inside a sentence, before a lower-case word, still belong to one claim.
    assert [m for _, _, m in split_answer("Paris [1] and London [2] are capitals.")] == [(1, 2)]


def test_a_fragment_is_read_with_its_neighbour_and_never_alone(strict: Verifier) -> None:
    source = {1: "Keep-Alive. Defaults to 5 seconds. Set the maximum message size. Default: 16."}
    # An unmarked label goes with the sentence after it; a marked last fragment with the one before it.
    assert strict.verify("Keep-Alive. Defaults to 5 seconds [1].", source).verified
    result = strict.verify("Set the maximum message size. Default: 16 [1].", source)
    assert result.verified and len(result.checks) == 1
    # With its own markers after a claim, a fragment stays a fragment.
    result = strict.verify("Defaults to 5 seconds [1]. Keep-Alive [1].", source)
    assert [c.supported for c in result.checks] == [True, False]
