"""Evaluation data: recordings grouped into works, from a folder tree, a CSV or covers80's lists.

- folder per work: every file's work is the folder that holds it (relative to the root), so both
  ``covers80-dev/<work>/<file>`` and ``asap/<composer>/<piece>/<work>/<file>`` read as expected;
- CSV: ``path,work_id`` rows (a header line is optional; relative paths are relative to the CSV), or
  ASAP's ``metadata.csv`` (``folder``, ``midi_score``, ``midi_performance`` columns);
- covers80 lists: ``list1.list`` (originals) and ``list2.list`` (covers), paired by line.

MIDI files count as recordings too; :func:`homage.evaluation.run.evaluate` renders them first.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from homage import audio
from homage.errors import HomageError

MIDI_EXTENSIONS = frozenset({".mid", ".midi"})


@dataclass(frozen=True)
class Item:
    path: Path
    work: str


def is_recording(path: str | Path) -> bool:
    return audio.is_audio_path(path) or Path(path).suffix.lower() in MIDI_EXTENSIONS


def load_dataset(source: str | Path) -> list[Item]:
    """The recordings of ``source`` with their work labels, sorted by work then path."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        items = _from_csv(source)
    elif (source / "list1.list").is_file() and (source / "list2.list").is_file():
        items = _from_lists(source)
    elif source.is_dir():
        items = _from_folders(source)
    else:
        raise HomageError(f"{source}: not a folder of works, a CSV of path,work_id, or covers80 lists")
    if not items:
        raise HomageError(f"{source}: no recordings found")
    return sorted(set(items), key=lambda item: (item.work, str(item.path)))


def _from_folders(root: Path) -> list[Item]:
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        folder = Path(dirpath)
        if folder == root:
            continue  # loose files at the top belong to no work
        work = folder.relative_to(root).as_posix()
        items += [Item(folder / f, work) for f in filenames if not f.startswith(".") and is_recording(f)]
    return items


def _from_csv(path: Path) -> list[Item]:
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    base = path.parent
    if {"folder", "midi_performance"} <= set(header):  # ASAP metadata
        at = {name: header.index(name) for name in header}
        items = set()
        for row in rows[1:]:
            for column in ("midi_score", "midi_performance"):
                if column in at and row[at[column]]:
                    items.add(Item(base / row[at[column]], row[at["folder"]]))
        return list(items)
    if header[:2] in (["path", "work_id"], ["path", "work"]):
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 2]
    if bad:
        raise HomageError(f"{path}: rows must be path,work_id (first bad row: {','.join(bad[0])!r})")
    return [Item(_resolve(base, r[0].strip()), r[1].strip()) for r in rows]


def _from_lists(root: Path) -> list[Item]:
    originals = _read_list(root / "list1.list")
    covers = _read_list(root / "list2.list")
    if len(originals) != len(covers):
        raise HomageError(f"{root}: list1.list has {len(originals)} lines, list2.list {len(covers)}")
    items = []
    for line, (a, b) in enumerate(zip(originals, covers), start=1):
        work = a.split("/")[0] if "/" in a else f"work{line:03d}"
        items += [Item(_find_listed(root, a), work), Item(_find_listed(root, b), work)]
    return items


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
