"""`homage demo`: the main job on music that ships with the install, no files of the user's needed.

Pieces from music21's bundled corpus are rendered in several versions each (other instrument, tempo
and key, several file formats), indexed into a catalog, and one version is used as the query: the demo
succeeds when the query's other versions rank above every recording of another piece.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from homage import audio, pipeline
from homage.catalog.schema import DB_NAME
from homage.data.render import VersionParams, make_version, render
from homage.data.timing import excerpt
from homage.features.cache import FeatureCache
from homage.models import get_embedder

# (music21 corpus work, title, composer)
PIECES = [
    ("joplin/maple_leaf_rag", "Maple Leaf Rag", "Scott Joplin"),
    ("schubert/Lindenbaum", "Der Lindenbaum", "Franz Schubert"),
    ("verdi/laDonnaEMobile", "La donna è mobile", "Giuseppe Verdi"),
    ("liliuokalani/aloha_oe", "Aloha ʻOe", "Liliʻuokalani"),
    ("cpebach/h186", "Sonata H. 186", "C. P. E. Bach"),
    ("johnson_j_r/lift_every_voice", "Lift Every Voice and Sing", "J. Rosamond Johnson"),
]
PROGRAMS = [0, 4, 6, 11, 19, 24, 46, 48, 52, 56, 65, 73]  # piano, e-piano, harpsichord, vibes, organ, ...
FORMATS = ["flac", "mp3", "ogg", "wav"]
EXCERPT_S = 45.0


@dataclass(frozen=True)
class DemoVersion:
    work: str
    title: str
    composer: str
    params: VersionParams
    path: Path


@dataclass(frozen=True)
class DemoResult:
    catalog: Path
    versions: list[DemoVersion]  # every rendered version
    query: DemoVersion  # the version used as the query
    expected: frozenset[str]  # paths of the query's other versions
    result: pipeline.QueryResult

    @property
    def ranks(self) -> list[int]:
        """Where the query's other versions rank."""
        return sorted(m.rank for m in self.result.matches if m.recording.path in self.expected)

    @property
    def found_all(self) -> bool:
        """Whether the other versions take the first places, above every recording of another piece."""
        return self.ranks == list(range(1, len(self.expected) + 1))


def _drop_if_other_embedder(catalog: Path) -> None:
    """The demo's own catalog, left by a release whose embedder read other features, is removed to be built
    anew (a user's catalog is never removed: ``homage index`` tells them to re-index it)."""
    if (catalog / DB_NAME).exists() and pipeline.catalog_info(catalog)["embedder"] not in (
        None,
        get_embedder().identity,
    ):
        shutil.rmtree(catalog)


def run_demo(
    out: str | Path,
    *,
    n_versions: int = 3,
    seed: int = 0,
    words: bool | None = None,
    on_item=None,
    on_stage=None,
) -> DemoResult:
    """Render the demo music under ``out/music``, index it into ``out/catalog`` and query with the first
    piece's second version (other instrument, tempo and key); ``words`` as :func:`homage.pipeline.query`
    takes it (the demo's music has none: with the lyrics extra, every recording abstains). ``on_stage(text)``
    says what is under way."""
    out = Path(out)
    music, catalog, cache = out / "music", out / "catalog", FeatureCache(out / "cache")
    if on_stage:
        on_stage(
            f"Rendering {len(PIECES)} pieces from music21's corpus, {n_versions} versions each "
            "(instrument, tempo and key change; flac/mp3/ogg/wav)"
        )
    made = render_demo_music(music, n_versions=n_versions, seed=seed, on_item=on_item)
    if on_stage:
        on_stage(f"Indexing {music} into the catalog {catalog}")
    _drop_if_other_embedder(catalog)
    pipeline.index_dir(music, catalog, cache=cache, prune=True, words=words)
    query = made[1]
    expected = frozenset(str(audio.absolute(v.path)) for v in made if v.work == query.work) - {
        str(audio.absolute(query.path))
    }
    result = pipeline.query(query.path, catalog, k=8, cache=cache, words=words)
    return DemoResult(catalog, made, query, expected, result)


def version_plan(n_versions: int, seed: int) -> list[list[VersionParams]]:
    """Per piece, ``n_versions`` distinct versions: the first as written on piano, the others drawn."""
    rng = np.random.default_rng(seed)
    plans = []
    for _ in PIECES:
        versions = [VersionParams(0, 1.0, 0)]
        programs = rng.permutation(PROGRAMS[1:])
        for v in range(1, n_versions):
            versions.append(
                VersionParams(
                    program=int(programs[v % len(programs)]),
                    tempo_ratio=round(float(rng.uniform(0.8, 1.25)), 2),
                    transpose=int(rng.choice([-5, -4, -3, -2, 2, 3, 4, 5])),
                )
            )
        plans.append(versions)
    return plans


def render_demo_music(out_dir: str | Path, *, n_versions: int = 3, seed: int = 0, on_item=None) -> list[DemoVersion]:
    """Render every piece in ``n_versions`` versions under ``out_dir/<work>/``; existing files are reused."""
    out_dir = Path(out_dir)
    made = []
    for (work, title, composer), versions in zip(PIECES, version_plan(n_versions, seed)):
        slug = work.split("/")[-1]
        paths = [out_dir / slug / f"v{i + 1}.{FORMATS[i % len(FORMATS)]}" for i in range(len(versions))]
        if not all(p.exists() for p in paths):
            source = score_to_midi(work)
            for i, (params, path) in enumerate(zip(versions, paths)):
                render(make_version(excerpt(source, EXCERPT_S), params), path)
                _tag(path, title=f"{title} (v{i + 1}: {params.describe()})", artist=composer)
        for params, path in zip(versions, paths):
            made.append(DemoVersion(work, title, composer, params, path))
            if on_item:
                on_item(str(path), None)
    return made


def score_to_midi(work: str | Path) -> pretty_midi.PrettyMIDI:
    """A music21 corpus work (name or file path) as MIDI, expanded as music21 plays it."""
    from music21 import corpus

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mid = Path(tmp, "score.mid")
        corpus.parse(work).write("midi", fp=str(mid))
        return pretty_midi.PrettyMIDI(str(mid))


def _tag(path: Path, *, title: str, artist: str) -> None:
    import mutagen

    if path.suffix == ".wav":
        return  # RIFF tags are not read back by most players; the file name tells
    tagged = mutagen.File(str(path), easy=True)
    if tagged.tags is None:
        tagged.add_tags()
    tagged["title"] = title
    tagged["artist"] = artist
    tagged.save()
