"""The files a person reads, written in one place: a comparison's report (``report.md`` + ``alignment.png``),
a scan's (``report.html`` + ``flagged.csv``) and an evaluation's (``report.md``, its figures, JSON).

Above the pipeline: they take its results (and a scan's report compares its flagged pairs again)."""

from homage.reports.comparison import clock, plot_alignment, write_comparison_report
from homage.reports.evaluation import write_evaluation_json, write_evaluation_report
from homage.reports.scan import write_scan_report

__all__ = [
    "clock",
    "plot_alignment",
    "write_comparison_report",
    "write_evaluation_json",
    "write_evaluation_report",
    "write_scan_report",
]
