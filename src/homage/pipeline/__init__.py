"""The facade every shell (the CLI, the API, a batch job) calls, owning every default: analyse a file,
index a folder, query a catalog, compare two recordings, evaluate pipelines. Nothing here prints;
each function takes paths and options and returns plain dataclasses with a ``to_json``."""

from homage.pipeline.analysis import analyze_file
from homage.pipeline.evaluate import ALIGN_RANKING, evaluate
from homage.pipeline.grouping import GroupReport, group_table, groups
from homage.pipeline.indexing import (
    IndexReport,
    analyze_many,
    catalog_info,
    embedder_for,
    index_dir,
    list_recordings,
    open_catalog,
    optimize,
    remove,
)
from homage.pipeline.scanning import ScanReport, scan
from homage.pipeline.search import (
    DEFAULT_RANKING,
    Comparison,
    Match,
    QueryResult,
    compare,
    parse_ranking,
    query,
    ranking_name,
)

__all__ = [
    "ALIGN_RANKING",
    "DEFAULT_RANKING",
    "Comparison",
    "GroupReport",
    "IndexReport",
    "Match",
    "QueryResult",
    "ScanReport",
    "analyze_file",
    "group_table",
    "groups",
    "scan",
    "analyze_many",
    "catalog_info",
    "compare",
    "embedder_for",
    "evaluate",
    "index_dir",
    "list_recordings",
    "open_catalog",
    "optimize",
    "parse_ranking",
    "ranking_name",
    "query",
    "remove",
]
