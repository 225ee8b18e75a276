"""Where the works of the versions corpus come from: each source becomes a list of ``Work``s.

- POP909 (MIT): a song folder ``NNN/`` with ``NNN.mid`` (MELODY, BRIDGE, PIANO tracks), ``chord_midi.txt``,
  ``beat_midi.txt`` and ``versions/`` (earlier arrangement drafts). One folder = one work.
- ASAP (CC BY-NC-SA 4.0): ``metadata.csv`` rows; one folder = one work, its human performances and the
  score rendition are its versions.
- Recorded audio (e.g. Debian game-music packages): one file = one work with one version, a distractor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homage import audio
from homage.data.manifest import read_asap
from homage.errors import ConfigError

LICENCES = {
    "pop909": "MIT (POP909, Wang et al. 2020)",
    "asap": "CC BY-NC-SA 4.0 (ASAP, Foscarin et al. 2020)",
}
DEBIAN_MUSIC_DIRS = ("/usr/share/games",)


@dataclass(frozen=True)
class Work:
    work_id: str
    source: str  # pop909 | asap | audio
    title: str
    licence: str
    files: tuple[str, ...]  # pop909: song MIDI then drafts; asap: performances then the score; audio: the file
    chords: str | None = None  # pop909 chord labels
    beats: str | None = None  # pop909 beat grid


def pop909_works(root: str | Path) -> list[Work]:
    """Song folders with a MIDI file and chord/beat annotations (others are left out)."""
    if not Path(root).is_dir():
        raise ConfigError(f"{root}: no such POP909 folder")
    works = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        song, chords, beats = folder / f"{folder.name}.mid", folder / "chord_midi.txt", folder / "beat_midi.txt"
        if not (song.is_file() and chords.is_file() and beats.is_file()):
            continue
        drafts = sorted(str(p) for p in (folder / "versions").glob("*.mid")) if (folder / "versions").is_dir() else []
        works.append(
            Work(
                f"pop909-{folder.name}",
                "pop909",
                f"POP909 song {folder.name}",
                LICENCES["pop909"],
                (str(song), *drafts),
                str(chords),
                str(beats),
            )
        )
    return works


def asap_works(root: str | Path) -> list[Work]:
    """One work per ASAP folder: its performances (sorted) followed by the score rendition."""
    root = Path(root)
    works = []
    for piece in read_asap(root / "metadata.csv"):
        files = [str(root / p) for p in piece.performances] + [str(root / piece.score)]
        work_id = "asap-" + piece.folder.replace("/", "-").replace(" ", "_")
        works.append(Work(work_id, "asap", piece.title, LICENCES["asap"], tuple(files)))
    return works


def audio_works(roots: list[str | Path]) -> list[Work]:
    """Each audio file under ``roots`` as a single-version distractor work."""
    works = []
    for root in roots:
        if not Path(root).is_dir():
            raise ConfigError(f"{root}: no such folder of recordings")
        for path in audio.find_audio(root):
            package = _debian_package(path)
            name = path.stem.replace(" ", "_")
            works.append(
                Work(
                    f"audio-{package or Path(root).name}-{name}",
                    "audio",
                    path.stem,
                    f"see the copyright file of Debian package {package}" if package else "unknown",
                    (str(path),),
                )
            )
    return sorted({w.work_id: w for w in works}.values(), key=lambda w: w.work_id)


def debian_music_dirs() -> list[Path]:
    """Music folders of installed Debian game-music packages (``/usr/share/games/*/.../music``)."""
    found = []
    for base in DEBIAN_MUSIC_DIRS:
        found += [
            p for p in sorted(Path(base).glob("**/music")) if p.is_dir() and any(map(audio.is_audio_path, p.iterdir()))
        ]
    return found


def _debian_package(path: Path) -> str | None:
    parts = path.parts
    if "games" in parts:
        i = parts.index("games")
        return parts[i + 1] if i + 1 < len(parts) else None
    return None
