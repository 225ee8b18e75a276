"""Build the versions corpus: works from the sources, versions rendered through a recording chain.

Layout of a corpus folder::

    build.json          the settings (a resumed build must use the same)
    manifest.jsonl      one row per version: work_id, version_id, split, source, licence, path, duration,
                        arrangement/render parameters, recording chain
    errors.jsonl        works (or versions) that could not be rendered, with the reason; a resumed build
                        drops those of works it has since rendered
    train/<work_id>/<version_id>.mp3   (also val/, test/): folder per work, what `homage evaluate` reads

Each work is rendered by one worker from its own random generator (seeded by the build seed, its draw and the
work id), so the output does not depend on the number of workers or on interruptions. Splits are by
work: no work has versions in two splits. A resumed build skips works already in the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from homage import audio
from homage.data import chain as recording
from homage.data.manifest import MANIFEST, read_manifest
from homage.data.render import find_soundfonts
from homage.data.sources import Work, asap_works, audio_works, pop909_works
from homage.data.synth import synthesize
from homage.data.versions import POP909_ARRANGEMENTS, Version, work_versions
from homage.errors import ConfigError, Failure, HomageError
from homage.parallel import Executor, as_executor

SPLITS = ("train", "val", "test")
RENDER_SR = 22050
MIN_VERSION_S = 5.0
DETUNE_CENTS = 50.0  # humanized renders: a band tuned up to half a semitone off A440, as covers80's are


def detune(y: np.ndarray, sr: int, cents: float) -> np.ndarray:
    """``y`` played ``cents`` higher, as a tape or a band tuned off A440 would (the tempo moves with it)."""
    return soxr.resample(y, sr * 2 ** (cents / 1200), sr).astype(np.float32)


@dataclass(frozen=True)
class BuildSettings:
    seed: int = 0
    draw: int = 0  # another draw of versions of the same works, in the same splits (0: the seed's own)
    versions: int = 4  # per work (recorded distractors have one)
    seconds: float = 30.0  # excerpt length of each version
    max_works: int | None = None  # a deterministic sample of the works; all when None
    pop909: str | None = None
    asap: str | None = None
    audio: tuple[str, ...] = ()  # folders of recordings used as single-version distractors
    soundfonts: tuple[str, ...] = ()  # empty: every installed SoundFont
    fractions: tuple[float, float] = (0.8, 0.1)  # train, validation; the rest is test
    splits: tuple[str, ...] = SPLITS  # render only the works of these splits (e.g. whole-song val versions)
    arrangements: tuple[str, ...] = ()  # POP909: one version of each of these kinds instead of `versions` drawn
    humanize: bool = False  # leads sung, tempo wandering (versions.perform), each render tuned off A440
    reinterpret: bool = False  # each version its own reading of melody and chords (versions.reinterpret_leads)


@dataclass
class BuildSummary:
    works: int
    versions: int
    hours: float
    seconds: float
    skipped: int  # works already built (resumed)
    errors: list[str]


def split_of(work_id: str, seed: int, fractions: tuple[float, float]) -> str:
    """The split of a work: a uniform draw from a hash of (seed, work id), stable across builds."""
    u = _hash_int(f"{seed}:{work_id}") / 2**64
    return "train" if u < fractions[0] else "val" if u < fractions[0] + fractions[1] else "test"


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def select_works(settings: BuildSettings) -> list[Work]:
    """The works of all configured sources (or a seeded sample of ``max_works`` of them) in ``splits``."""
    if unknown := set(settings.splits) - set(SPLITS):
        raise ConfigError(f"unknown split(s) {', '.join(sorted(unknown))}: choose from {', '.join(SPLITS)}")
    if unknown := set(settings.arrangements) - set(POP909_ARRANGEMENTS):
        raise ConfigError(
            f"unknown arrangement(s) {', '.join(sorted(unknown))}: choose from {', '.join(POP909_ARRANGEMENTS)}"
        )
    works = []
    if settings.pop909:
        works += pop909_works(settings.pop909)
    if settings.asap:
        works += asap_works(settings.asap)
    if settings.audio:
        works += audio_works(list(settings.audio))
    if not works:
        raise ConfigError("no works: give at least one source (--pop909, --asap or --audio) that holds some")
    if settings.max_works is not None and settings.max_works < len(works):
        keep = sorted(works, key=lambda w: _hash_int(f"{settings.seed}:pick:{w.work_id}"))[: settings.max_works]
        works = sorted(keep, key=lambda w: w.work_id)
    return [w for w in works if split_of(w.work_id, settings.seed, settings.fractions) in settings.splits]


def build(
    out: str | Path,
    settings: BuildSettings,
    *,
    workers: int | Executor = 1,
    on_start: Callable[[int], None] | None = None,
    on_work: Callable[[str, list[dict], str | None], None] | None = None,
) -> BuildSummary:
    """Render the corpus into ``out`` (resuming a build there); see the module docstring for the layout."""
    out = Path(out)
    fonts = [str(p) for p in (settings.soundfonts or find_soundfonts())]
    if not fonts:
        raise ConfigError("no SoundFont found: install fluid-soundfont-gm (see setup.sh) or pass --soundfont")
    settings = dataclasses.replace(settings, soundfonts=tuple(fonts))
    _check_settings(out, settings)
    works = select_works(settings)
    done = {row["work_id"] for row in read_manifest(out)}
    todo = [w for w in works if w.work_id not in done]
    if on_start:
        on_start(len(todo))
    started, errors, rows_written = time.perf_counter(), [], 0
    with open(out / MANIFEST, "a", encoding="utf-8") as manifest, open(out / "errors.jsonl", "a") as log:
        jobs = [(w, settings, str(out)) for w in todo]
        # spawned workers (a forked copy of a process holding a FluidSynth synthesizer can deadlock)
        for (work, _, _), result in as_executor(workers).map(_render_work, jobs, ordered=False):
            work_id, rows, error = (work.work_id, [], result.reason) if isinstance(result, Failure) else result
            if rows:
                manifest.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
                manifest.flush()
                rows_written += len(rows)
            if error:
                errors.append(f"{work_id}: {error}")
                log.write(json.dumps({"work_id": work_id, "error": error, "versions_kept": len(rows)}) + "\n")
                log.flush()
            if on_work:
                on_work(work_id, rows, error)
    rows = read_manifest(out)
    _drop_resolved_errors(out / "errors.jsonl", {r["work_id"] for r in rows})
    return BuildSummary(
        works=len({r["work_id"] for r in rows}),
        versions=len(rows),
        hours=sum(r["duration"] for r in rows) / 3600,
        seconds=time.perf_counter() - started,
        skipped=len(works) - len(todo),
        errors=errors,
    )


def _drop_resolved_errors(path: Path, built: set[str]) -> None:
    """Rewrite the error log (atomically) without the failures of works rendered since, keeping the
    failed versions of works that were kept in part."""
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    keep = [line for line, e in zip(lines, entries) if e["work_id"] not in built or e.get("versions_kept", 1)]
    if len(keep) < len(lines):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        os.replace(tmp, path)


def _check_settings(out: Path, settings: BuildSettings) -> None:
    """Write ``build.json``, or check a resumed build uses the same settings."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "build.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(settings)))
    if path.exists():
        defaults = json.loads(json.dumps(dataclasses.asdict(BuildSettings())))
        existing = json.loads(path.read_text())
        existing = {**{k: defaults[k] for k in wanted if k not in existing}, **existing}  # older builds: defaults
        if existing != wanted:
            changed = sorted(k for k in wanted if existing.get(k) != wanted[k])
            raise ConfigError(f"{out} holds a build with other settings ({', '.join(changed)}): use another folder")
    else:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(wanted, indent=2))
        os.replace(tmp, path)


def _render_work(job: tuple[Work, BuildSettings, str]) -> tuple[str, list[dict], str | None]:
    """All versions of one work; a failing version is reported, the others are kept."""
    work, settings, out = job
    rng = np.random.default_rng([settings.seed, _hash_int(work.work_id), *([settings.draw] if settings.draw else [])])
    split = split_of(work.work_id, settings.seed, settings.fractions)
    try:
        versions = work_versions(
            work,
            settings.versions,
            settings.seconds,
            rng,
            settings.arrangements,
            settings.humanize,
            settings.reinterpret,
        )
    except (HomageError, ValueError, OSError) as exc:
        return work.work_id, [], str(exc)
    rows, problems = [], []
    for version in versions:
        try:
            rows.append(_render_version(work, version, split, settings, Path(out), rng))
        except (HomageError, ValueError, OSError, RuntimeError) as exc:
            problems.append(f"{version.version_id}: {exc}")
    return work.work_id, rows, "; ".join(problems) or None


def _render_version(work: Work, version: Version, split: str, settings: BuildSettings, out: Path, rng) -> dict:
    render: dict = {"sr": RENDER_SR}
    if version.midi is not None:
        font = str(rng.choice(settings.soundfonts))
        render["soundfont"] = Path(font).name
        y = synthesize(version.midi, font, RENDER_SR)
    else:
        y = audio.load(work.files[0], sr=RENDER_SR, offset=version.audio_offset, duration=settings.seconds)[:, None]
    if len(y) < MIN_VERSION_S * RENDER_SR or np.abs(y).max() < 1e-4:
        raise HomageError(f"rendered audio is shorter than {MIN_VERSION_S:.0f} s or silent")
    if settings.humanize and version.midi is not None:
        render["detune_cents"] = round(float(rng.uniform(-DETUNE_CENTS, DETUNE_CENTS)), 1)
        y = detune(y, RENDER_SR, render["detune_cents"])
    chain = recording.draw_chain(rng)
    y = recording.apply_chain(y, RENDER_SR, chain, rng)
    enc = recording.encoding(chain["encoding"])
    y = y.mean(axis=1) if enc.channels == 1 else (np.repeat(y, 2, axis=1) if y.shape[1] == 1 else y)
    y = soxr.resample(y, RENDER_SR, enc.sr) if enc.sr != RENDER_SR else y
    relative = f"{split}/{work.work_id}/{version.version_id}{enc.suffix}"
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{enc.suffix}")
    audio.save(partial, y, enc.sr, bitrate=enc.bitrate)
    os.replace(partial, path)
    return {
        "work_id": work.work_id,
        "version_id": version.version_id,
        "split": split,
        "source": work.source,
        "title": work.title,
        "licence": work.licence,
        "role": "distractor" if work.source == "audio" else "version",
        "path": relative,
        "duration": round(len(y) / enc.sr, 2),
        "params": version.params,
        "render": render,
        "chain": chain,
    }
