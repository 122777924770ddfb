"""The citation verifier on hand-made cases (with the bundled MiniLM embedder)."""

from __future__ import annotations

import pytest

from citegraph.agents.verifier import Verifier, entities, numbers, split_answer

SOURCES = {
    1: "To Sherlock Holmes she is always the woman. Irene Adler is an American opera singer, "
    "born in New Jersey in 1858.",
    2: "Dr. Watson shared rooms with Holmes at 221B Baker Street. The storm of 1923 sank nine ships.",
}


@pytest.fixture(scope="module")
def verifier(embedder) -> Verifier:
    return Verifier(embedder)


def test_split_answer_attaches_markers_to_their_sentences() -> None:
    assert split_answer("Adler sings [1]. Watson writes. [2] [3] Done") == [
        ("Adler sings [1].", "Adler sings.", (1,)),
        ("Watson writes [2] [3].", "Watson writes.", (2, 3)),
        ("Done", "Done", ()),
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
        "Irene Adler is a singer from America [1].",  # paraphrase: 'America' ~ 'American'
        "The storm of 1923 sank nine ships [2].",
        "Nine ships were sunk by the storm of 1923 [1] [2].",  # one of two cited sources supports it
    ],
)
def test_supported_sentences_pass(verifier: Verifier, answer: str) -> None:
    result = verifier.verify(answer, SOURCES)
    assert result.verified, result.feedback()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Watson is an American opera singer [1].", "does not mention 'watson'"),  # entity swapped
        ("Irene Adler was born in 1859 [1].", "does not mention '1859'"),  # number swapped
        ("The storm of 1923 sank ten ships [2].", "does not mention '10'"),  # number word swapped
        ("Watson is an American opera singer [2].", "does not mention 'american'"),  # wrong source
        ("Holmes enjoys playing the violin [2].", "does not say this"),  # not in the source
        ("Irene Adler is an American opera singer [3].", "cites [3], which is not a given source"),
        ("Irene Adler is an American opera singer.", "cites no source"),
    ],
)
def test_unsupported_sentences_fail_with_a_reason(verifier: Verifier, answer: str, reason: str) -> None:
    result = verifier.verify(answer, SOURCES)
    assert not result.verified
    assert reason in result.checks[0].reason


def test_unsupported_sentences_are_dropped_from_the_supported_text(verifier: Verifier) -> None:
    answer = (
        "Irene Adler is an opera singer [1]. Watson is an opera singer [1]. "
        "Watson lived at 221B Baker Street [2]."
    )
    result = verifier.verify(answer, SOURCES)
    assert [c.supported for c in result.checks] == [True, False, True]
    assert (
        result.supported_text == "Irene Adler is an opera singer [1]. Watson lived at 221B Baker Street [2]."
    )
    assert result.feedback() == "- \"Watson is an opera singer.\": [1] does not mention 'watson'"
    assert not verifier.verify("", SOURCES).verified
