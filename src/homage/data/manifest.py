"""Recordings grouped into works: one record type (:class:`Entry`) and one reader per layout.

- a built corpus: ``manifest.jsonl``, one row per version (work, version, split, role, path, parameters);
- a folder per work: every file's work is the folder that holds it (relative to the root), so both
  ``covers80-dev/<work>/<file>`` and ``asap/<composer>/<piece>/<work>/<file>`` read as expected;
- a CSV of ``path,work_id`` rows (a header line is optional; relative paths are relative to the CSV);
- ASAP's ``metadata.csv`` (``folder``, ``midi_score``, ``midi_performance`` columns): one work per folder;
- covers80's lists: ``list1.list`` (originals) and ``list2.list`` (covers), paired by line.

MIDI files count as recordings; the evaluation renders them first.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from homage import audio
from homage.errors import ConfigError, HomageError

MIDI_EXTENSIONS = frozenset({".mid", ".midi"})
MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Entry:
    """One recording and the work it is a version of (corpus entries also name version, split and role)."""

    work: str
    path: Path
    version: str = ""
    split: str = ""
    role: str = "version"  # "version", or "distractor" (a work with one recording)
    kind: str = ""  # the kind of version, where the corpus names it (its arrangement: original, melody, …)


@dataclass(frozen=True)
class AsapPiece:
    """One ASAP folder (one work): its title, score rendition and human performances (paths under the root)."""

    folder: str
    title: str
    score: str
    performances: tuple[str, ...] = field(default=())


def work_labels(works: list[str]) -> np.ndarray:
    """Integer labels of work names (0 … n_works − 1, numbered in sorted order)."""
    index = {w: k for k, w in enumerate(sorted(set(works)))}
    return np.array([index[w] for w in works], dtype=np.int64)


def is_recording(path: str | Path) -> bool:
    return audio.is_audio_path(path) or Path(path).suffix.lower() in MIDI_EXTENSIONS


def read_manifest(root: str | Path) -> list[dict]:
    """Rows of ``root/manifest.jsonl`` as written by the corpus build (a torn last line is ignored)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return []
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[(row["work_id"], row["version_id"])] = row
    return list(rows.values())


def read_corpus(root: str | Path, split: str | None = None) -> list[Entry]:
    """The entries of a built corpus (or of one of its splits), sorted by work and version."""
    root = Path(root)
    if not (root / MANIFEST).exists():
        raise ConfigError(f"{root}: no {MANIFEST} (build one with `homage data build`)")
    entries = [
        Entry(
            r["work_id"], root / r["path"], r["version_id"], r["split"], r["role"], r["params"].get("arrangement", "")
        )
        for r in read_manifest(root)
    ]
    return sorted((e for e in entries if split is None or e.split == split), key=lambda e: (e.work, e.version))


def read_asap(metadata_csv: str | Path) -> list[AsapPiece]:
    """ASAP's ``metadata.csv``: one piece per folder, performances sorted."""
    metadata_csv = Path(metadata_csv)
    if not metadata_csv.is_file():
        raise ConfigError(f"{metadata_csv.parent}: no ASAP metadata.csv there")
    pieces: dict[str, dict] = {}
    with open(metadata_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            piece = pieces.setdefault(
                row["folder"],
                {"title": f"{row['composer']}: {row['title']}", "score": row["midi_score"], "performances": set()},
            )
            if row.get("midi_performance"):
                piece["performances"].add(row["midi_performance"])
    return [
        AsapPiece(folder, p["title"], p["score"], tuple(sorted(p["performances"])))
        for folder, p in sorted(pieces.items())
    ]


def load_dataset(source: str | Path) -> list[Entry]:
    """The recordings of ``source`` (any layout above) with their works, sorted by work then path."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        entries = _from_csv(source)
    elif (source / MANIFEST).is_file():
        entries = read_corpus(source)
    elif (source / "list1.list").is_file() and (source / "list2.list").is_file():
        entries = _from_lists(source)
    elif source.is_dir():
        entries = _corpus_split(source) or _from_folders(source)
    else:
        raise HomageError(f"{source}: not a folder of works, a CSV of path,work_id, or covers80 lists")
    if not entries:
        raise HomageError(f"{source}: no recordings found")
    return sorted(set(entries), key=lambda e: (e.work, str(e.path)))


def _corpus_split(folder: Path) -> list[Entry]:
    """The entries of a corpus split folder (``corpus/val``) from its corpus's manifest; none for other folders."""
    folder = audio.absolute(folder)
    if not (folder.parent / MANIFEST).is_file():
        return []
    return [e for e in read_corpus(folder.parent, split=folder.name) if e.path.is_file()]


def _from_folders(root: Path) -> list[Entry]:
    root = audio.absolute(root)
    entries = []
    for path in audio.walk_files(root, is_recording):
        work = path.parent.relative_to(root).as_posix()
        if work != ".":  # loose files at the top belong to no work
            entries.append(Entry(work, path))
    return entries


def _from_csv(path: Path) -> list[Entry]:
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    base = path.parent
    if {"folder", "midi_performance"} <= set(header):  # ASAP metadata
        return [Entry(p.folder, base / f) for p in read_asap(path) for f in (*p.performances, p.score) if f]
    if header[:2] in (["path", "work_id"], ["path", "work"]):
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 2]
    if bad:
        raise HomageError(f"{path}: rows must be path,work_id (first bad row: {','.join(bad[0])!r})")
    return [Entry(r[1].strip(), _resolve(base, r[0].strip())) for r in rows]


def _from_lists(root: Path) -> list[Entry]:
    originals = _read_list(root / "list1.list")
    covers = _read_list(root / "list2.list")
    if len(originals) != len(covers):
        raise HomageError(f"{root}: list1.list has {len(originals)} lines, list2.list {len(covers)}")
    entries = []
    for line, (a, b) in enumerate(zip(originals, covers), start=1):
        work = a.split("/")[0] if "/" in a else f"work{line:03d}"
        entries += [Entry(work, _find_listed(root, a)), Entry(work, _find_listed(root, b))]
    return entries


def _read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _find_listed(root: Path, entry: str) -> Path:
    """covers80 lists name files without extension, relative to the root or its ``covers32k/``."""
    for base in (root, root / "covers32k"):
        candidate = base / entry
        if candidate.is_file():
            return candidate
        for ext in (".mp3", ".wav", ".flac", ".ogg", ".m4a"):
            if candidate.with_name(candidate.name + ext).is_file():
                return candidate.with_name(candidate.name + ext)
    return root / entry  # reported as missing when decoded


def _resolve(base: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p
