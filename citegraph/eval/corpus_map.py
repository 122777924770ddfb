"""A map of a store: its chunk vectors projected to 2-D, clustered, each cluster named, outliers listed.

The vectors are the store's own (read back from Chroma, never re-embedded). KMeans runs for a range of k
and keeps the k with the best silhouette; the inertia of every k is kept too, for the elbow plot. A
cluster is named by class-based TF-IDF: the terms frequent in its chunks and rare in the corpus as a
whole, tokenized like BM25 (so Thai is segmented) but not stemmed, so the names stay readable.
Outputs: a PNG (PCA, t-SNE, elbow/silhouette), a self-contained HTML page and a JSON summary.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from citegraph.retrieval.store import HybridStore

_READ_BATCH = 1000  # chunk vectors per Chroma read
_SILHOUETTE_SAMPLE = 4000  # silhouette is O(n^2): score k on a fixed sample beyond this many chunks
SNIPPET = 200  # characters of chunk text shown on hover and in the summary


@dataclass(frozen=True)
class MapChunk:
    """One chunk as the map shows it: where it comes from and its text."""

    chunk_id: str
    source: str
    title: str
    text: str


@dataclass
class Cluster:
    """One KMeans cluster: its size, distinctive terms and the chunk nearest its centroid."""

    cluster: int
    size: int
    terms: list[str]
    example_source: str
    example_text: str


@dataclass
class CorpusMap:
    """Everything the PNG, HTML and JSON are drawn from."""

    chunks: list[MapChunk]
    labels: np.ndarray  # (n,) cluster of each chunk
    pca: np.ndarray  # (n, 2)
    pca_variance: list[float]  # explained variance ratio of the two components
    tsne: np.ndarray  # (m, 2), for the chunks at tsne_index (all of them unless sampled)
    tsne_index: np.ndarray  # (m,)
    ks: list[int]
    inertias: list[float]
    silhouettes: list[float]
    k: int
    silhouette: float
    clusters: list[Cluster]
    outliers: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self, store: str = "") -> dict[str, Any]:
        """The JSON summary: choice of k, clusters, outliers and timings (no per-point coordinates)."""
        return {
            "store": store,
            "chunks": len(self.chunks),
            "sources": len({c.source for c in self.chunks}),
            "k": self.k,
            "silhouette": round(self.silhouette, 4),
            "k_search": [
                {"k": k, "inertia": round(i, 3), "silhouette": round(s, 4)}
                for k, i, s in zip(self.ks, self.inertias, self.silhouettes, strict=True)
            ],
            "pca_explained_variance": [round(v, 4) for v in self.pca_variance],
            "tsne_points": len(self.tsne_index),
            "clusters": [asdict(c) for c in self.clusters],
            "outliers": self.outliers,
            "timings_s": {name: round(t, 2) for name, t in self.timings.items()},
            "notes": self.notes,
        }


def load_store_chunks(store: HybridStore) -> tuple[list[MapChunk], np.ndarray]:
    """Every chunk the manifest names, with its stored vector (an ``(n, dim)`` float32 array)."""
    sources = {s.source_id: s for s in store.sources()}
    records = store.manifest.chunks()
    chunks = []
    for record in records:
        source = sources.get(record.source_id)
        path, title = (source.path, source.title) if source else ("", "")
        chunks.append(MapChunk(record.chunk_id, Path(path).name or path, title, record.text))
    ids = [c.chunk_id for c in chunks]
    parts = [store.embeddings(ids[i : i + _READ_BATCH]) for i in range(0, len(ids), _READ_BATCH)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return chunks, vectors


def search_k(
    vectors: np.ndarray, ks: Sequence[int], seed: int = 0, n_init: int = 10
) -> tuple[list[float], list[float], dict[int, np.ndarray]]:
    """KMeans for each k: inertias, silhouettes (on a fixed sample when large) and the labels."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    sample = None
    if len(vectors) > _SILHOUETTE_SAMPLE:
        sample = np.random.default_rng(seed).choice(len(vectors), _SILHOUETTE_SAMPLE, replace=False)
    inertias, silhouettes, labels = [], [], {}
    for k in ks:
        model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(vectors)
        labels[k] = model.labels_
        inertias.append(float(model.inertia_))
        rows = sample if sample is not None else slice(None)
        silhouettes.append(float(silhouette_score(vectors[rows], model.labels_[rows])))
    return inertias, silhouettes, labels


def cluster_terms(
    texts: Sequence[str],
    labels: np.ndarray,
    tokenize: Callable[[str], list[str]] | None = None,
    top: int = 6,
    min_chunks: int = 2,
    prior: float = 1000.0,
) -> list[list[str]]:
    """The ``top`` most distinctive terms of each cluster against the rest of the corpus.

    The score is the z-score of the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi
    and Quinn 2008, "Fightin' Words"): the term counts of the cluster's chunks against those of all other
    chunks, smoothed by the corpus' own term shares (``prior`` pseudo-counts in all). Plain TF-IDF over
    clusters ranks words frequent everywhere ("said", "he") first; the z-score ranks them near zero.
    Terms in fewer than ``min_chunks`` chunks of the cluster are skipped (one chunk's names are no theme).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if tokenize is None:
        from citegraph.retrieval.tokenizer import make_tokenizer

        tokenize = make_tokenizer(stem=False)

    def terms_of(text: str) -> list[str]:
        # BM25 keeps pronouns (they rarely hurt ranking); as names of topics they say nothing. Bare numbers
        # and single letters name nothing a reader can recognise.
        return [t for t in tokenize(text) if len(t) > 1 and not t.isdigit() and t not in ENGLISH_STOP_WORDS]

    vectorizer = CountVectorizer(tokenizer=terms_of, lowercase=False, token_pattern=None)
    counts = vectorizer.fit_transform(texts)  # (chunks, terms)
    vocab = vectorizer.get_feature_names_out()
    n_clusters = int(labels.max()) + 1
    present = (counts > 0).astype(np.float64)
    # Sparse sums come back as np.matrix rows: asarray makes them plain (clusters, terms) arrays.
    inside = np.asarray(np.vstack([counts[labels == c].sum(axis=0) for c in range(n_clusters)]), np.float64)
    chunks_with = np.asarray(np.vstack([present[labels == c].sum(axis=0) for c in range(n_clusters)]))
    total = inside.sum(axis=0)
    outside = total - inside
    alpha = prior * total / max(total.sum(), 1.0)  # prior pseudo-counts, shared out like the corpus
    n_in = inside.sum(axis=1, keepdims=True)
    n_out = total.sum() - n_in
    log_odds_in = np.log(inside + alpha) - np.log(n_in + prior - inside - alpha)
    log_odds_out = np.log(outside + alpha) - np.log(n_out + prior - outside - alpha)
    z = (log_odds_in - log_odds_out) / np.sqrt(1.0 / (inside + alpha) + 1.0 / (outside + alpha))
    scores = np.where(chunks_with >= min_chunks, z, -np.inf)
    names = []
    for row in scores:
        best = np.argsort(-row, kind="stable")[:top]
        names.append([str(vocab[i]) for i in best if np.isfinite(row[i]) and row[i] > 0])
    return names


def build_map(
    chunks: list[MapChunk],
    vectors: np.ndarray,
    k_range: tuple[int, int] = (2, 12),
    max_tsne: int = 3000,
    outliers: int = 10,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    k: int | None = None,
) -> CorpusMap:
    """Project, cluster (k by silhouette within ``k_range``, or the given ``k``), name clusters and list
    outliers."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = len(chunks)
    if n < 4:
        raise ValueError(f"a map needs at least 4 chunks, the store has {n}")
    step = progress or (lambda _: None)
    timings: dict[str, float] = {}
    notes: list[str] = []

    started = time.perf_counter()
    step("k search")
    ks = list(range(max(2, k_range[0]), min(k_range[1], n - 1) + 1))
    if k is not None and not 2 <= k < n:
        raise ValueError(f"k={k} must be at least 2 and below the number of chunks ({n})")
    if k is not None and k not in ks:
        ks = sorted([*ks, k])
    # Ten restarts on small stores; three on big ones, where each costs seconds and the curve barely moves.
    inertias, silhouettes, all_labels = search_k(vectors, ks, seed, n_init=10 if n <= 5000 else 3)
    best = int(np.argmax(silhouettes))
    if k is None:
        k = ks[best]
    else:
        notes.append(f"k={k} given; the best silhouette in the search was at k={ks[best]}")
    labels = all_labels[k]
    if n > _SILHOUETTE_SAMPLE:
        notes.append(f"silhouette scored on a random sample of {_SILHOUETTE_SAMPLE} of {n} chunks")
    if silhouettes[best] < 0.25:  # Kaufman and Rousseeuw's bar for "no substantial structure"
        notes.append(
            f"best silhouette {silhouettes[best]:.3f} < 0.25: no strong cluster structure, so the clusters "
            "are regions of a continuum and k is a weak choice (see the elbow)"
        )
    timings["kmeans"] = time.perf_counter() - started

    started = time.perf_counter()
    step("PCA")
    pca_model = PCA(n_components=2, random_state=seed)
    pca = pca_model.fit_transform(vectors)
    timings["pca"] = time.perf_counter() - started

    started = time.perf_counter()
    step("t-SNE")
    index = np.arange(n)
    if n > max_tsne:
        index = np.sort(np.random.default_rng(seed).choice(n, max_tsne, replace=False))
        notes.append(f"t-SNE drawn on a random sample of {max_tsne} of {n} chunks")
    perplexity = float(min(30.0, (len(index) - 1) / 3))
    tsne = TSNE(
        n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed
    ).fit_transform(vectors[index])
    timings["tsne"] = time.perf_counter() - started

    started = time.perf_counter()
    step("naming")
    names = cluster_terms([c.text for c in chunks], labels)
    centroids = np.stack([vectors[labels == c].mean(axis=0) for c in range(k)])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - np.einsum("ij,ij->i", unit, centroids[labels])  # cosine distance to own centroid
    clusters = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        central = members[np.argmin(distance[members])]
        clusters.append(
            Cluster(c, len(members), names[c], _named(chunks[central]), _snippet(chunks[central].text))
        )
    far = np.argsort(-distance, kind="stable")[:outliers]
    outlier_rows = [
        {
            "chunk_id": chunks[i].chunk_id,
            "source": _named(chunks[i]),
            "cluster": int(labels[i]),
            "distance": round(float(distance[i]), 4),
            "text": _snippet(chunks[i].text),
        }
        for i in far
    ]
    timings["naming"] = time.perf_counter() - started
    return CorpusMap(
        chunks, labels, pca, [float(v) for v in pca_model.explained_variance_ratio_], tsne, index,
        ks, inertias, silhouettes, k, silhouettes[ks.index(k)], clusters, outlier_rows, timings, notes,
    )  # fmt: skip


def _named(chunk: MapChunk) -> str:
    """The source's file name, and its title when that says more (a BEIR document id says nothing)."""
    if not chunk.title or chunk.title == chunk.source:
        return chunk.source
    return f"{chunk.source} · {_snippet(chunk.title, 60)}"


def _snippet(text: str, length: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def cluster_label(cluster: Cluster, terms: int = 3) -> str:
    """A short legend label: the cluster number and its first few terms."""
    return f"{cluster.cluster}: " + (", ".join(cluster.terms[:terms]) or "(no terms)")


# -- rendering ------------------------------------------------------------------------------------------


def _colors(k: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(k)]


def save_png(corpus_map: CorpusMap, path: Path, title: str) -> None:
    """PCA and t-SNE scatter coloured by cluster, and inertia/silhouette against k, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the CLI and tests only write files
    import matplotlib.pyplot as plt

    m = corpus_map
    colors = np.array(_colors(m.k))
    fig, axes = plt.subplots(1, 3, figsize=(19, 6.5), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    pca_title = f"PCA ({m.pca_variance[0]:.1%} + {m.pca_variance[1]:.1%} of variance)"
    tsne_title = "t-SNE (cosine)" + (
        f", sample of {len(m.tsne_index)}/{len(m.chunks)}" if len(m.tsne_index) < len(m.chunks) else ""
    )
    for ax, xy, labels, name in (
        (axes[0], m.pca, m.labels, pca_title),
        (axes[1], m.tsne, m.labels[m.tsne_index], tsne_title),
    ):
        size = max(2.5, min(14.0, 20000 / len(xy)))  # dense clouds need small dots to show their shape
        ax.scatter(xy[:, 0], xy[:, 1], c=colors[labels], s=size, alpha=0.7, linewidths=0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colors[c.cluster], label=cluster_label(c))
        for c in m.clusters
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(4, m.k), fontsize=9, frameon=False)
    ax = axes[2]
    ax.plot(m.ks, m.inertias, "o-", color="tab:blue")
    ax.set_xlabel("k (KMeans clusters)")
    ax.set_ylabel("inertia (elbow)", color="tab:blue")
    twin = ax.twinx()
    twin.plot(m.ks, m.silhouettes, "s--", color="tab:red")
    twin.set_ylabel("silhouette", color="tab:red")
    twin.axvline(m.k, color="grey", linestyle=":")
    top = int(np.argmax(m.silhouettes))
    shown = "" if m.ks[top] == m.k else f"; shown: k={m.k}"
    ax.set_title(f"choosing k: best silhouette {m.silhouettes[top]:.3f} at k={m.ks[top]}{shown}")
    fig.suptitle(f"{title}: {len(m.chunks)} chunks, {m.k} clusters")
    rows = math.ceil(m.k / min(4, m.k))
    fig.tight_layout(rect=(0, 0.02 + 0.03 * rows, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _svg_points(xy: np.ndarray, labels: np.ndarray, colors: list[str], view: str) -> str:
    """One SVG of circles scaled into a 600x600 box; ``data-i`` is the point's row in the page's data."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    scaled = 10 + 580 * (xy - low) / np.maximum(high - low, 1e-12)
    circles = "".join(
        f'<circle cx="{x:.1f}" cy="{600 - y:.1f}" r="3" fill="{colors[label]}" data-i="{i}"/>'
        for i, ((x, y), label) in enumerate(zip(scaled, labels, strict=True))
    )
    return f'<svg id="{view}" viewBox="0 0 600 600" width="600" height="600">{circles}</svg>'


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1em;color:#222}}
.views{{display:flex;gap:1em;flex-wrap:wrap}} svg{{border:1px solid #ccc;background:#fff}}
circle{{opacity:.75}} circle:hover{{opacity:1;stroke:#000;stroke-width:1.5}}
#tip{{position:fixed;display:none;max-width:420px;background:#fffbe6;border:1px solid #999;padding:6px;
font-size:13px;pointer-events:none;white-space:pre-wrap}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}}
.sw{{display:inline-block;width:12px;height:12px}}
</style></head><body>
<h1>{title}</h1><p>{meta}</p><ul>{notes}</ul>
<div class="views"><div><h3>PCA{shown}</h3>{pca}</div><div><h3>t-SNE</h3>{tsne}</div></div>
<h2>Clusters</h2><table><tr><th></th><th>cluster</th><th>size</th><th>top terms</th><th>example source</th>
</tr>{rows}</table>
<h2>Outliers (farthest from their cluster's centroid)</h2><table><tr><th>source</th><th>cluster</th>
<th>cosine distance</th><th>text</th></tr>{outliers}</table>
<div id="tip"></div>
<script id="points" type="application/json">{data}</script>
<script>
// Text goes in through textContent only, so chunk text can never become markup.
const points = JSON.parse(document.getElementById("points").textContent);
const tip = document.getElementById("tip");
document.querySelectorAll("circle").forEach(function (dot) {{
  dot.addEventListener("mousemove", function (event) {{
    const p = points[Number(dot.dataset.i)];
    tip.textContent = p.s + "  (cluster " + p.c + ")\\n" + p.t;
    // Keep the box on screen: flip it to the left of the pointer near the right edge.
    const left = event.clientX + 440 > window.innerWidth ? event.clientX - 432 : event.clientX + 12;
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = (event.clientY + 12) + "px";
    tip.style.display = "block";
  }});
  dot.addEventListener("mouseleave", function () {{ tip.style.display = "none"; }});
}});
</script></body></html>
"""


def save_html(corpus_map: CorpusMap, path: Path, title: str) -> None:
    """A self-contained page (inline SVG, plain JS, nothing fetched): hover a point for source and text."""
    m = corpus_map
    colors = _colors(m.k)
    # Both views draw the t-SNE sample (all chunks when not sampled): a page of a few MB at most, and the
    # same points side by side.
    rows = m.tsne_index
    points = [
        {"s": _named(c), "t": _snippet(c.text), "c": int(m.labels[i])}
        for i, c in ((int(i), m.chunks[int(i)]) for i in rows)
    ]  # fmt: skip
    # "</script>" or "<!--" inside the JSON would end or confuse the script element: no raw <, > or & at
    # all (JSON.parse reads the \u escapes back); ensure_ascii also covers U+2028/2029.
    data = json.dumps(points, ensure_ascii=True)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    table = "".join(
        f'<tr><td><span class="sw" style="background:{colors[c.cluster]}"></span></td><td>{c.cluster}</td>'
        f"<td>{c.size}</td><td>{html.escape(', '.join(c.terms))}</td>"
        f"<td>{html.escape(c.example_source)}</td></tr>"
        for c in m.clusters
    )
    sampled = len(m.tsne_index) < len(m.chunks)
    page = _PAGE.format(
        title=html.escape(title),
        meta=html.escape(f"{len(m.chunks)} chunks, k={m.k} (silhouette {m.silhouette:.3f})."),
        notes="".join(f"<li>{html.escape(note)}</li>" for note in m.notes),
        outliers="".join(
            f"<tr><td>{html.escape(o['source'])}</td><td>{o['cluster']}</td><td>{o['distance']:.3f}</td>"
            f"<td>{html.escape(o['text'])}</td></tr>"
            for o in m.outliers
        ),
        pca=_svg_points(m.pca[rows], m.labels[rows], colors, "pca"),
        shown=f" (both views: a random sample of {len(rows)})" if sampled else "",
        tsne=_svg_points(m.tsne, m.labels[rows], colors, "tsne"),
        rows=table,
        data=data,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def save_json(corpus_map: CorpusMap, path: Path, store: str = "") -> dict[str, Any]:
    """Write the summary JSON; returns it."""
    summary = corpus_map.summary(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
