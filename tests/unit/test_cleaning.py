"""PDF text clean-up rules (citegraph.ingest.cleaning), on lines as pypdf extracts them from real papers."""

from __future__ import annotations

import pytest

from citegraph.ingest.cleaning import (
    choose_title,
    clean_page,
    clean_pdf_pages,
    heading_level,
    is_broken_word,
    is_junk_title,
    normalize_characters,
    title_by_font,
)


@pytest.mark.parametrize(
    ("prefix", "suffix", "vocabulary", "broken"),
    [
        ("be", "cause", frozenset(), True),  # "because" is a word
        ("obser", "vations", frozenset(), True),  # "obser" is no word: a hyphenated word
        ("fault", "tolerant", frozenset(), False),  # two words, "faulttolerant" is none: a compound
        ("agreed", "upon", frozenset(), False),
        ("single", "decree", frozenset({"single-decree"}), False),  # the document writes it hyphenated
        ("time", "stamps", frozenset({"timestamps"}), True),  # the document writes it joined
    ],
)
def test_line_end_hyphens(prefix: str, suffix: str, vocabulary: frozenset[str], broken: bool) -> None:
    assert is_broken_word(prefix, suffix, vocabulary) is broken


def test_running_headers_footers_page_numbers_and_contents_lines_go() -> None:
    bodies = [
        ["Raft elects a leader.", "It waits for a timeout."],
        ["The leader replicates its log.", "Followers append entries."],
        ["Logs are compacted.", "Snapshots replace old entries."],
        ["Members change.", "Joint consensus keeps it safe."],
    ]
    pages = [
        ["USENIX Association 2014 USENIX Annual Technical Conference 305", *body, str(n)]
        for n, body in enumerate(bodies, start=1)
    ]
    pages[1].insert(2, "3.3 Fault Tolerance .......... 12")
    cleaned = clean_pdf_pages(["\n".join(lines) for lines in pages])
    assert [page.text.replace("\n\n", "\n") for page in cleaned] == ["\n".join(body) for body in bodies]


def test_a_running_header_whose_page_number_is_set_apart_on_some_pages_goes() -> None:
    # Bender and Farach-Colton's header: "... 321 (2004) 5–12 7" on one page, "... 5–1211" on another.
    header = "M.A. Bender, M. Farach-Colton / Theoretical Computer Science 321 (2004) 5–12"
    bodies = [["Ladders extend long paths.", "Each vertex climbs."], ["Jump pointers halve.", "Tables help."]]
    bodies += [["Macro nodes cover leaves.", "Micro trees are small."], ["The query takes O(1).", "Done."]]
    pages = [
        [f"{header} {n}" if n < 10 else f"{header}{n}", *body]
        for n, body in zip((7, 9, 11, 13), bodies, strict=True)
    ]
    # A plot's axis at a page's foot keeps its count of numbers: only the same count repeats.
    pages[0].append("0 10 20 30")
    cleaned = clean_pdf_pages(["\n".join(lines) for lines in pages])
    assert [page.text.replace("\n\n", "\n") for page in cleaned][1:] == ["\n".join(b) for b in bodies[1:]]
    assert cleaned[0].text.endswith("0 10 20 30")


def test_two_pages_keep_their_lines() -> None:
    """Under 3 pages nothing counts as a running header: the same first line may well be content."""
    cleaned = clean_pdf_pages(["Kestrel bridge\nIt opened in 1932.", "Kestrel bridge\nIt is 40 m long."])
    assert [page.text for page in cleaned] == [
        "Kestrel bridge\nIt opened in 1932.",
        "Kestrel bridge\nIt is 40 m long.",
    ]


def test_a_heading_becomes_its_own_paragraph_and_is_recorded() -> None:
    lines = [
        "by hundreds of clients.",
        "3.3 Fault Tolerance",
        "Since the MapReduce library is designed to help process",
        "very large amounts of data, it must tolerate failures.",
    ]
    page = clean_page(lines, frozenset())
    assert page.text.startswith("by hundreds of clients.\n\n3.3 Fault Tolerance\n\nSince the MapReduce")
    assert [(h.offset, h.level, h.title) for h in page.headings] == [(25, 2, "3.3 Fault Tolerance")]


@pytest.mark.parametrize(
    ("line", "previous", "next_line", "level"),
    [
        ("5.1 Raft basics", "ties to guarantee safety.", "A Raft cluster contains", 2),
        ("2. DESIGN OVERVIEW", "basis.", "2.1 Assumptions", 1),
        ("Abstract", "Stanford University", "Raft is a consensus", 1),
        ("A Word Frequency", "http://example.org/spsort.pdf.", "This section contains", 1),
        ("33 of these students were able to", "A user study with 43 students.", "answer questions", 0),
        ("1. Replyfalseifterm<currentTerm(§5.1)", "Receiver implementation:", "2. Reply", 0),
        ("A server remains in follower state", "are elected.", "As long as it", 0),
        ("3 Raft servers then vote", "so the candidate wins", "Raft uses", 0),  # mid-sentence line
        ("20 Number of clients N", "0 5 10 15", "Aggregate", 0),  # figure axis labels
        ("4 Leader election", "the first term.", "when the leader fails", 0),  # runs on in lower case
    ],
)
def test_what_counts_as_a_heading(line: str, previous: str, next_line: str, level: int) -> None:
    assert heading_level(line, previous, False, next_line) == level


def test_paragraph_breaks_for_captions_fragments_and_interruptions() -> None:
    lines = [
        "Replicated state machines are used in many systems.",
        "Figure 1: Replicated state machine architecture.",
        "used to solve a variety of fault tolerance problems.",
        "Client",
        "Server",
        "Log",
        "Each server stores a log containing a series of commands, two 160GB IDE",
        "20 40 60 80 100",
        "Seconds",
        "0",
        "Figure 2: Transfer rate",
        "disks, and a gigabit Ethernet link.",
    ]
    text = clean_page(lines, frozenset()).text
    assert text.split("\n\n") == [
        "Replicated state machines are used in many systems.",
        "Figure 1: Replicated state machine architecture.",
        "used to solve a variety of fault tolerance problems.",
        "Client\nServer\nLog",
        "Each server stores a log containing a series of commands, two 160GB IDE",
        "20 40 60 80 100\nSeconds\n0",  # a figure's axis: never part of the sentence it interrupts
        "Figure 2: Transfer rate",
        "disks, and a gigabit Ethernet link.",
    ]


def test_ligatures_and_soft_hyphens() -> None:
    assert (
        normalize_characters("an efﬁcient ﬂow\u00ad\ncon\u00adsensus") == "an efficient flow\u00ad\nconsensus"
    )
    page = clean_page(["It is an efficient repli\u00ad", "cated log."], frozenset())
    assert page.text == "It is an efficient replicated log."


@pytest.mark.parametrize(
    ("title", "junk"),
    [
        ("", True),
        ("paper.dvi", True),
        ("Microsoft Word - raft.doc", True),
        ("Untitled", True),
        ("1 Introduction", True),
        ("Abstract", True),
        ("C:\\papers\\gfs", True),
        ("In Search of an Understandable Consensus Algorithm", False),
        ("MapReduce: Simplified Data Processing on Large Clusters", False),
    ],
)
def test_junk_metadata_titles(title: str, junk: bool) -> None:
    assert is_junk_title(title) is junk


def test_title_by_font() -> None:
    body = [(10.0, "Raft is a consensus algorithm for managing a replicated log. " * 3)]
    fragments = [
        (17.2, "In Search of an Understandable\n"),
        (17.2, "Consensus Algorithm"),
        (12.0, "Diego Ongaro"),
    ]
    assert title_by_font(fragments + body) == "In Search of an Understandable Consensus Algorithm"
    drop_capital = [(40.0, "T"), (24.0, "The Google File System"), (12.0, "Sanjay Ghemawat")]
    assert title_by_font(drop_capital + body) == "The Google File System"
    assert title_by_font([(10.0, "The Google File System"), *body]) is None  # one size: no title by font


def test_choose_title() -> None:
    page = "The Google File System\nSanjay Ghemawat\nABSTRACT"
    assert choose_title("paper.dvi", "The Google File System", page) == "The Google File System"
    assert choose_title("The Google File System", None, page) == "The Google File System"
    # A usable metadata title that page 1 does not show, where page 1 has a large-font title: page 1 wins.
    assert choose_title("GFS camera-ready v3", "The Google File System", page) == "The Google File System"
    assert choose_title("Bridge Report", None, "Alpha page text.") == "Bridge Report"
    assert choose_title("", None, page) is None
