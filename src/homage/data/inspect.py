"""A picture of a corpus: the versions of a few works side by side (CQT over chroma, one column each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from homage.data.manifest import read_manifest
from homage.errors import HomageError
from homage.features.cache import FeatureCache
from homage.features.cqt import CQTSpec, chroma_from_cqt


def split_counts(root: str | Path) -> dict[str, dict]:
    """Per split: how many works, versions and hours of audio a built corpus holds."""
    rows = read_manifest(root)
    if not rows:
        raise HomageError(f"{root}: no manifest rows (build a corpus with `homage data build`)")
    counts = {}
    for split in ("train", "val", "test"):
        part = [r for r in rows if r["split"] == split]
        counts[split] = {
            "works": len({r["work_id"] for r in part}),
            "versions": len(part),
            "hours": sum(r["duration"] for r in part) / 3600,
        }
    return counts


def pick_works(rows: list[dict], n: int, seed: int) -> list[str]:
    """``n`` works with the most versions, one per source in turn, seeded."""
    by_work: dict[str, list[dict]] = {}
    for row in rows:
        by_work.setdefault(row["work_id"], []).append(row)
    rng = np.random.default_rng(seed)
    sources = sorted({r["source"] for r in rows if r["role"] == "version"})
    pools = {s: [w for w, v in by_work.items() if v[0]["source"] == s and len(v) > 1] for s in sources}
    for s in sources:
        pools[s] = [pools[s][i] for i in rng.permutation(len(pools[s]))]
    picked = []
    while len(picked) < n and any(pools.values()):
        for s in sources:
            if pools[s] and len(picked) < n:
                picked.append(pools[s].pop())
    return picked


def _caption(row: dict) -> str:
    p = row["params"]
    parts = [row["version_id"], p.get("arrangement", "")]
    if "style" in p:
        parts.append(p["style"])
    if "tempo_ratio" in p:
        parts.append(f"{p['tempo_ratio']:.2f}×")
    if "transpose" in p:
        parts.append(f"{p['transpose']:+d} st")
    return " ".join(parts) + f"\n{row['chain']['encoding']}"


def inspect_corpus(
    root: str | Path, out_png: str | Path, *, n_works: int = 4, seed: int = 0, cache: FeatureCache | None = None
) -> Path:
    """Write a PNG with, per work (rows), each version's CQT (dB) above its chroma (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_manifest(root)
    works = pick_works(rows, n_works, seed)
    if not works:
        raise HomageError(f"{root}: no work with two or more versions")
    cache = cache or FeatureCache(None)
    spec = CQTSpec()
    versions = {w: sorted((r for r in rows if r["work_id"] == w), key=lambda r: r["version_id"]) for w in works}
    n_cols = max(len(v) for v in versions.values())
    fig, axes = plt.subplots(2 * len(works), n_cols, figsize=(3.2 * n_cols, 3.4 * len(works)), squeeze=False)
    for r, work in enumerate(works):
        for c in range(n_cols):
            top, bottom = axes[2 * r, c], axes[2 * r + 1, c]
            if c >= len(versions[work]):
                top.axis("off"), bottom.axis("off")
                continue
            row = versions[work][c]
            C = cache.features(Path(root) / row["path"], spec)
            db = 20 * np.log10(C + 1e-6)
            seconds = C.shape[1] / spec.frame_rate
            top.imshow(
                db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 60, extent=(0, seconds, 0, C.shape[0])
            )
            bottom.imshow(chroma_from_cqt(C), origin="lower", aspect="auto", cmap="Greys", extent=(0, seconds, 0, 12))
            top.set_title(f"{work}\n{_caption(row)}" if c == 0 else _caption(row), fontsize=7)
            top.set_yticks([0, 36, 72], ["C1", "C4", "C7"], fontsize=6)
            bottom.set_yticks([0.5, 4.5, 7.5], ["C", "E", "G"], fontsize=6)
            for ax in (top, bottom):
                ax.tick_params(labelsize=6)
            bottom.set_xlabel("s", fontsize=6)
    fig.suptitle("Versions of a work side by side: CQT (dB) above chroma", fontsize=10)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
