"""A comparison report a person can read or attach: the cross-recurrence plot with the alignment path
and matched segments marked (PNG), and a Markdown page with the verdict, the numbers and the segments."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from homage.align import AlignConfig


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def plot_alignment(comparison, target: str | Path | BinaryIO, config: AlignConfig = AlignConfig()):
    """Cross-recurrence of A (rows) against B (columns), best path in red, segments boxed: a PNG written to
    ``target`` (a path or a binary file object), which is returned. A Figure of its own, not pyplot's global
    state: the server draws pictures in several threads at once."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    al = comparison.alignment
    R = al.cross_recurrence
    to_s = 1.0 / config.frame_rate
    fig = Figure(figsize=(6.5, 6))
    ax = fig.subplots()
    ax.imshow(
        R,
        origin="lower",
        cmap="Greys",
        aspect="auto",
        interpolation="nearest",
        extent=(0, R.shape[1] * to_s, 0, R.shape[0] * to_s),
    )
    if al.path is not None:
        ax.plot(al.path[:, 1] * to_s, al.path[:, 0] * to_s, color="red", lw=1.5, label="best alignment path")
    for n, g in enumerate(al.segments, start=1):
        ax.add_patch(
            Rectangle((g.b_start, g.a_start), g.b_end - g.b_start, g.a_end - g.a_start, fill=False, ec="C0", lw=1.2)
        )
        ax.text(g.b_start, g.a_end, f" {n}", color="C0", va="bottom", fontsize=9)
    ax.set_xlabel(f"B: {Path(comparison.b).name} (s)")
    ax.set_ylabel(f"A: {Path(comparison.a).name} (s)")
    ax.set_title(f"{comparison.verdict} (p = {comparison.probability:.2f}): {comparison.summary}", fontsize=9)
    if al.path is not None:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110, format="png")
    return target


def _calibrated_on(comparison) -> str:
    if comparison.words is None:
        return "pitch evidence only: calibrated on rendered versions of the homage corpus"
    return "pitch and words: calibrated on real covers, leave-one-work-out cross-validated"


def markdown(comparison, image: str | None = None) -> str:
    al = comparison.alignment
    lines = [
        "# homage comparison",
        "",
        f"- **A**: `{comparison.a}`",
        f"- **B**: `{comparison.b}`",
        "",
        f"**Verdict: {comparison.verdict}** — probability that A and B are versions of one work: "
        f"{comparison.probability:.2f} ({_calibrated_on(comparison)}).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| alignment score (Qmax / √frames of B) | {al.score:.2f} |",
        f"| embedding similarity ({comparison.embedder}) | {comparison.similarity:.3f} |",
        f"| transposition of B relative to A | {al.transposition:+d} semitones ({comparison.summary}) |",
        f"| tempo ratio (B duration / A duration) | {al.tempo_ratio:.2f} |",
        "",
        "## Matched segments",
        "",
        "| # | A from | A to | B from | B to | strength |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {n} | {clock(g.a_start)} | {clock(g.a_end)} | {clock(g.b_start)} | {clock(g.b_end)} | {g.strength:.0f} |"
        for n, g in enumerate(al.segments, start=1)
    ]
    if not al.segments:
        lines.append("| – | no matching passage | | | | |")
    lines += ["", "## Shared lines", ""]
    if comparison.words is None:
        lines.append("No lyric evidence: one of them is instrumental, or was not transcribed.")
    else:
        lines += [
            f"Similarity of their words: {comparison.words:.2f}.",
            "",
            "| A | B | words |",
            "| ---: | ---: | --- |",
        ]
        lines += [
            f"| {clock(x.a_start)}–{clock(x.a_end)} | {clock(x.b_start)}–{clock(x.b_end)} | {x.text} |"
            for x in comparison.lines
        ]
        if not comparison.lines:
            lines.append("| – | – | no line in common |")
    if image:
        lines += [
            "",
            "## Cross-recurrence",
            "",
            f"![cross-recurrence of A and B with the alignment]({image})",
            "",
            "Dark cells: moments of A and B with similar pitch content (after transposition). Diagonal runs "
            "are passages played in both; the red line is the best alignment, the boxes are the matched segments.",
        ]
    return "\n".join(lines) + "\n"


def write_comparison_report(comparison, folder: str | Path) -> Path:
    """Write ``alignment.png`` and ``report.md`` into ``folder``; returns the Markdown path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plot_alignment(comparison, folder / "alignment.png")
    out = folder / "report.md"
    out.write_text(markdown(comparison, "alignment.png"), encoding="utf-8")
    return out
