"""A scan's report: ``report.html`` (one self-contained page, pictures inline: per flagged pair the verdict,
the numbers, the matched passages, the lines both sing and the alignment picture) and ``flagged.csv``."""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path

import jinja2

from homage.atomic import atomic_write
from homage.features.cache import FeatureCache
from homage.pipeline import ScanReport, compare
from homage.reports.comparison import clock, plot_alignment

CSV_COLUMNS = [
    "file",
    "catalog_id",
    "catalog_path",
    "catalog_label",
    "verdict",
    "probability",
    "transposition_semitones",
    "tempo_ratio",
    "matched_spans",
]


def write_scan_report(report: ScanReport, folder: str | Path, *, cache: FeatureCache | None = None) -> Path:
    """Write ``report.html`` and ``flagged.csv`` into ``folder`` (each pair compared again for its picture and
    its lines; features come from ``cache``); returns the page's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "flagged.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for f in report.flags:
            spans = "; ".join(
                f"A {clock(g['a_start'])}–{clock(g['a_end'])} = B {clock(g['b_start'])}–{clock(g['b_end'])}"
                for g in f.alignment["segments"]
            )
            writer.writerow(
                [
                    f.path,
                    f.recording["id"],
                    f.recording["path"],
                    f.recording["label"],
                    f.verdict,
                    f"{f.probability:.3f}",
                    f.alignment["transposition_semitones"],
                    f.alignment["tempo_ratio"],
                    spans,
                ]
            )
    flagged = []
    for flag in report.flags:
        comparison = compare(flag.path, flag.recording["path"], cache=cache)
        picture = base64.b64encode(plot_alignment(comparison, io.BytesIO()).getvalue()).decode()
        flagged.append({"flag": flag, "name": Path(flag.path).name, "comparison": comparison, "picture": picture})
    page = _templates().get_template("scan.html").render(report=report, flagged=flagged)
    return atomic_write(folder / "report.html", lambda fh: fh.write(page.encode("utf-8")))


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["clock"] = clock
    return environment
