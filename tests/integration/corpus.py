"""A small invented corpus (so no model can know the answers) written by the tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_pdf

LIGHTHOUSE = """The Hollowell Lighthouse

Marta Vance kept the Hollowell lighthouse for thirty-one years. She was born in the fishing village of Tarrow.

Every night Marta climbed the one hundred and twelve steps to light the lamp. The lamp burned whale oil until 1911, when paraffin replaced it.

In the great storm of 1923 she rowed out alone and saved nine sailors from the wrecked schooner Pelican. The harbour board gave her a silver medal for it.
"""

BAKERY = """# The Quillon Bakery

The Quillon bakery sells rye bread baked in a wood-fired oven. Its founder, Oskar Brell, came from Lübeck in 1898.

The bakery opens at five in the morning. Its most famous loaf is the caraway rye, which takes two days to prove.
"""

OBSERVATORY_HTML = """<html><head><title>Pellam Observatory</title></head><body>
<h1>Pellam Observatory</h1>
<p>The Pellam observatory stands on Crane Hill. Its main telescope has a mirror of 2.4 metres.</p>
<p>Astronomer Ilse Korda discovered the comet Korda-7 there in 1987.</p>
</body></html>
"""

BRIDGE_PAGES = [
    "Report on river crossings. The old ford at Dunmere was used for centuries by drovers and their cattle.",
    "The Kestrel bridge replaced the ford. It opened in 1932 and was designed by the engineer Agnes Thorne.",
]


def write_corpus(folder: Path) -> dict[str, Path]:
    """Write one file of each supported type; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "lighthouse": folder / "lighthouse.txt",
        "bakery": folder / "bakery.md",
        "observatory": folder / "observatory.html",
        "bridge": folder / "bridge.pdf",
    }
    files["lighthouse"].write_text(LIGHTHOUSE, encoding="utf-8")
    files["bakery"].write_text(BAKERY, encoding="utf-8")
    files["observatory"].write_text(OBSERVATORY_HTML, encoding="utf-8")
    write_pdf(files["bridge"], BRIDGE_PAGES, title="River Crossings")
    return files
