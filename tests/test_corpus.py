"""The versions corpus end to end on a tiny made-up POP909/ASAP layout: build, manifest, splits, loaders."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pretty_midi = pytest.importorskip(
    "pretty_midi", reason="MIDI rendering is the [data] extra (pip install 'homage[data]')"
)

from homage.audio import load
from homage.data import arrange, timing
from homage.data.build import BuildSettings, build, split_of
from homage.data.chain import apply_chain, draw_chain
from homage.data.manifest import read_corpus, read_manifest, work_labels
from homage.errors import ConfigError
from homage.features.cache import FeatureCache
from homage.features.cqt import CQTSpec

from conftest import SYNTH_REASON, have_synth, synth_piece, write

PROGRESSION = [(0, "C:maj"), (7, "G:maj"), (9, "A:min"), (5, "F:maj/3")]


def make_song(folder: Path, seed: int, bars: int = 12, beat: float = 0.5) -> None:
    """A POP909-style song folder: MELODY/BRIDGE/PIANO tracks, chord and beat annotations."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    midi = pretty_midi.PrettyMIDI()
    parts = {name: pretty_midi.Instrument(0, name=name) for name in ("MELODY", "BRIDGE", "PIANO")}
    chords, beats = [], []
    roots = rng.permutation(len(PROGRESSION))
    for bar in range(bars):
        root, label = PROGRESSION[roots[bar % len(roots)]]
        t0 = bar * 4 * beat
        chords.append(f"{t0:.3f}\t{t0 + 4 * beat:.3f}\t{label}")
        for k in range(4):
            beats.append(f"{t0 + k * beat:.3f} 1.0 {1.0 if k == 0 else 0.0}")
            pitch = 72 + root + int(rng.choice([0, 4, 7]))
            parts["MELODY"].notes.append(pretty_midi.Note(90, pitch, t0 + k * beat, t0 + (k + 1) * beat))
        for interval in (0, 4, 7):
            parts["PIANO"].notes.append(pretty_midi.Note(70, 48 + root + interval, t0, t0 + 4 * beat))
        parts["BRIDGE"].notes.append(pretty_midi.Note(60, 60 + root, t0, t0 + 2 * beat))
    midi.instruments = list(parts.values())
    midi.write(str(folder / f"{folder.name}.mid"))
    (folder / "chord_midi.txt").write_text("\n".join(chords) + "\n")
    (folder / "beat_midi.txt").write_text("\n".join(beats) + "\n")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sources")
    for k in range(1, 5):
        make_song(root / "pop909" / f"{k:03d}", seed=k)
    broken = root / "pop909" / "005"
    broken.mkdir()
    (broken / "005.mid").write_bytes(b"MThd not really a MIDI file")
    (broken / "chord_midi.txt").write_text("0.0\t2.0\tC:maj\n")
    (broken / "beat_midi.txt").write_text("0.0 1.0 1.0\n")
    write(root / "recordings" / "tune.wav", synth_piece(7, seconds=20))
    (root / "recordings" / "notes.txt").write_text("not audio")
    return {"pop909": str(root / "pop909"), "audio": (str(root / "recordings"),)}


def settings(sources: dict, **kw) -> BuildSettings:
    from homage.data.render import default_soundfont

    base = dict(seed=3, versions=4, seconds=8.0, soundfonts=(str(default_soundfont()),), **sources)
    return BuildSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def corpus(sources, tmp_path_factory) -> tuple[Path, object]:
    if not have_synth():
        pytest.skip(SYNTH_REASON)
    out = tmp_path_factory.mktemp("corpus")
    return out, build(out, settings(sources))


def test_build_writes_versions_manifest_and_reports_bad_sources(corpus):
    out, summary = corpus
    rows = read_manifest(out)
    assert summary.works == 5 and summary.versions == 4 * 4 + 1  # 4 songs × 4 versions + 1 distractor
    assert any("pop909-005" in e and "unreadable MIDI" in e for e in summary.errors)
    for row in rows:
        assert {
            "work_id",
            "version_id",
            "split",
            "source",
            "licence",
            "path",
            "duration",
            "params",
            "render",
            "chain",
        } <= set(row)
        assert (out / row["path"]).is_file() and row["path"].startswith(f"{row['split']}/{row['work_id']}/")
        assert 7.0 <= row["duration"] <= 10.5
    assert [r["role"] for r in rows if r["source"] == "audio"] == ["distractor"]
    assert json.loads((out / "errors.jsonl").read_text().splitlines()[0])["work_id"] == "pop909-005"


def test_splits_are_by_work(corpus):
    out, _ = corpus
    splits_of_work = {}
    for row in read_manifest(out):
        splits_of_work.setdefault(row["work_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits_of_work.values())
    drawn = [split_of(f"w{k}", 0, (0.8, 0.1)) for k in range(2000)]
    assert 0.75 < drawn.count("train") / 2000 < 0.85 and drawn.count("val") > 100
    assert drawn == [split_of(f"w{k}", 0, (0.8, 0.1)) for k in range(2000)]


def test_versions_of_a_work_really_differ(corpus):
    out, _ = corpus
    by_work = {}
    for row in read_manifest(out):
        if row["source"] == "pop909":
            by_work.setdefault(row["work_id"], []).append(row)
    for rows in by_work.values():
        signatures = {
            (
                json.dumps(r["params"].get("programs"), sort_keys=True),
                r["params"]["tempo_ratio"],
                r["params"]["transpose"],
            )
            for r in rows
        }
        assert len(signatures) == len(rows)
        assert len({r["params"]["arrangement"] for r in rows}) >= 2
        assert len({r["params"]["tempo_ratio"] for r in rows}) == len(rows)


def test_build_is_deterministic_and_resumable(corpus, sources, tmp_path):
    out, _ = corpus
    again = build(tmp_path / "again", settings(sources), workers=2)
    first = sorted(read_manifest(out), key=lambda r: r["path"])
    second = sorted(read_manifest(tmp_path / "again"), key=lambda r: r["path"])
    assert first == second and again.versions == len(first)
    for row in first[:6]:  # the same audio, up to FluidSynth's dither and the codec
        a, b = (load(root / row["path"], sr=16000) for root in (out, tmp_path / "again"))
        assert len(a) == len(b) and np.corrcoef(a, b)[0, 1] > 0.99
    resumed = build(tmp_path / "again", settings(sources))
    assert resumed.skipped == 5 and resumed.versions == len(first)
    with pytest.raises(ConfigError, match="other settings"):
        build(tmp_path / "again", settings(sources, seconds=9.0))


def test_build_of_some_splits_renders_only_their_works(corpus, sources, tmp_path):
    out, _ = corpus
    wanted = {r["split"] for r in read_manifest(out)} - {"train"} or {"train"}
    only = build(tmp_path / "only", settings(sources, splits=tuple(wanted)))
    rows = read_manifest(tmp_path / "only")
    assert rows and {r["split"] for r in rows} == wanted
    assert {r["work_id"] for r in rows} == {r["work_id"] for r in read_manifest(out) if r["split"] in wanted}
    assert only.versions == len(rows)
    with pytest.raises(ConfigError, match="unknown split"):
        build(tmp_path / "bad", settings(sources, splits=("dev",)))
    legacy = json.loads((out / "build.json").read_text())  # a build written before `splits` existed resumes
    (out / "build.json").write_text(json.dumps({k: v for k, v in legacy.items() if k != "splits"}))
    assert build(out, settings(sources)).skipped == 5


def test_corpus_features_and_batch_samplers(corpus, tmp_path):
    from homage.training.augment import augment_original
    from homage.training.samplers import original_triplets, pk_batches, version_triplets

    out, _ = corpus
    entries = read_corpus(out)
    features = FeatureCache(tmp_path / "cache").many([e.path for e in entries], CQTSpec(), workers=2)
    assert len(features) == len(entries) and features[0].shape[0] == 84
    labels = work_labels([e.work for e in entries])
    rng = np.random.default_rng(0)
    batches = list(pk_batches(labels, 2, 3, rng))
    assert batches and all(len(b) == 6 and len(set(labels[b])) == 2 for b in batches)
    triplets = version_triplets(labels, 50, rng)
    assert (labels[triplets[:, 0]] == labels[triplets[:, 1]]).all() and (triplets[:, 0] != triplets[:, 1]).all()
    assert (labels[triplets[:, 0]] != labels[triplets[:, 2]]).all()
    D = rng.random((len(labels), len(labels)))
    hard = version_triplets(labels, 10, rng, distances=D)
    for a, _, n in hard:
        assert D[a, n] == D[a][labels != labels[a]].min()
    pairs = original_triplets(labels, 30, rng)
    assert (labels[pairs[:, 0]] != labels[pairs[:, 1]]).all()
    X = features[0].astype(np.float32)
    augmented = augment_original(X, rng)
    assert augmented.shape[0] == X.shape[0] and 0.75 * X.shape[1] < augmented.shape[1] < 1.3 * X.shape[1]


def test_corpus_folder_is_an_evaluation_dataset(corpus):
    from homage.data.manifest import load_dataset

    out, _ = corpus
    rows = read_manifest(out)
    split = rows[0]["split"]
    items = load_dataset(out / split)
    assert len(items) == sum(r["split"] == split for r in rows)
    kinds = {(r["work_id"], r["version_id"]): r["params"]["arrangement"] for r in rows}
    assert all(e.kind == kinds[(e.work, e.version)] for e in items)  # a split folder reads its corpus's manifest


def test_build_of_named_arrangements_has_one_version_of_each(corpus, sources, tmp_path):
    from homage.data.sources import pop909_works
    from homage.data.versions import work_versions
    from homage.training.config import TrainConfig
    from homage.training.data import load_split

    summary = build(tmp_path / "kinds", settings(sources, arrangements=("original", "melody", "draft")))
    rows = [r for r in read_manifest(tmp_path / "kinds") if r["source"] == "pop909"]
    assert summary.works == 5 and len(rows) == 4 * 2  # the made-up songs have no drafts: original and melody
    assert {r["version_id"]: r["params"]["arrangement"] for r in rows if r["work_id"] == "pop909-001"} == {
        "v0": "original",
        "v1": "melody",
    }
    assert all(set(r["params"]["programs"]) == {"melody"} for r in rows if r["params"]["arrangement"] == "melody")
    work = next(w for w in pop909_works(sources["pop909"]) if w.work_id == "pop909-001")
    (alone,) = work_versions(work, 4, 8.0, np.random.default_rng(0), ("melody",))
    melody = {n.pitch % 12 for n in pretty_midi.PrettyMIDI(work.files[0]).instruments[0].notes}
    played = {(n.pitch - alone.params["transpose"]) % 12 for n in alone.midi.instruments[0].notes}
    assert len(alone.midi.instruments) == 1 and played <= melody  # the melody line and nothing else
    with pytest.raises(ConfigError, match="unknown arrangement"):
        build(tmp_path / "bad", settings(sources, arrangements=("medley",)))

    # training reads the melody-alone versions as more versions of the same works
    out, _ = corpus
    split = rows[0]["split"]
    config = TrainConfig(corpus=str(out), extra_corpora=(str(tmp_path / "kinds"),), cache=str(tmp_path / "cache"))
    both, main = load_split(config, split), load_split(replace(config, extra_corpora=()), split)
    extra = sum(r["split"] == split for r in read_manifest(tmp_path / "kinds"))
    assert len(both.inputs) == len(main.inputs) + extra
    assert len(set(both.labels)) == len(set(main.labels))  # no new works: the same work ids


def test_inspect_writes_png(corpus, tmp_path):
    from homage.data.inspect import inspect_corpus

    out, _ = corpus
    png = inspect_corpus(out, tmp_path / "inspect.png", n_works=2)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chord_labels_parse():
    assert arrange.parse_chord_label("C:maj") == (0, (0, 4, 7), 0)
    assert arrange.parse_chord_label("F#:min7/b7") == (6, (0, 3, 7, 10), 4)
    assert arrange.parse_chord_label("Bb:maj/3") == (10, (0, 4, 7), 2)
    assert arrange.parse_chord_label("N") is None


@pytest.mark.parametrize("style", arrange.STYLES)
def test_accompaniment_plays_the_chord_tones(style):
    chords = [arrange.Chord(0.0, 2.0, 0, (0, 4, 7), 0), arrange.Chord(2.0, 4.0, 9, (0, 3, 7), 9)]
    beats = np.arange(0, 4, 0.5)
    part = arrange.accompaniment(chords, beats, style, 0, np.random.default_rng(0))
    assert part.notes
    for note in part.notes:
        chord = chords[0] if note.start < 2.0 else chords[1]
        assert (note.pitch - chord.root) % 12 in chord.intervals
        assert note.end <= chord.end + 1e-6


def test_cut_and_repeat_change_the_length():
    midi = pretty_midi.PrettyMIDI()
    part = pretty_midi.Instrument(0)
    part.notes = [pretty_midi.Note(80, 60 + k, k, k + 1) for k in range(8)]
    midi.instruments.append(part)
    assert timing.cut_span(midi, 2, 4).get_end_time() == pytest.approx(6)
    repeated = timing.repeat_span(midi, 2, 4)
    assert repeated.get_end_time() == pytest.approx(10)
    assert [n.pitch for n in repeated.instruments[0].notes][:6] == [60, 61, 62, 63, 62, 63]


def test_recording_chain_keeps_the_signal_finite_and_shaped():
    rng = np.random.default_rng(0)
    y = np.stack([synth_piece(1, seconds=4, sr=22050)] * 2, axis=1)
    for seed in range(5):
        chain = draw_chain(np.random.default_rng(seed))
        out = apply_chain(y, 22050, chain, rng)
        assert out.shape == y.shape and np.isfinite(out).all()
        assert np.abs(out).max() == pytest.approx(10 ** (chain["gain_db"] / 20), rel=1e-3)


def test_cli_build_reports_missing_sources_clearly(tmp_path):
    from typer.testing import CliRunner

    from homage.cli.app import app

    result = CliRunner().invoke(
        app, ["data", "build", str(tmp_path / "out"), "--pop909", str(tmp_path / "nowhere"), "--no-debian-music"]
    )
    assert result.exit_code == 1 and "no such POP909 folder" in result.stderr
    result = CliRunner().invoke(app, ["data", "build", str(tmp_path / "out2"), "--no-debian-music"])
    assert result.exit_code == 1 and "no works" in result.stderr


def test_cli_build_and_inspect_end_to_end(sources, tmp_path):
    from typer.testing import CliRunner

    from homage.cli.app import app
    from homage.data.render import default_soundfont

    if not have_synth():
        pytest.skip(SYNTH_REASON)
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app,
        [
            "data",
            "build",
            str(out),
            "--pop909",
            sources["pop909"],
            "--no-debian-music",
            "--versions",
            "4",
            "--seconds",
            "6",
            "-j",
            "1",
            "--soundfont",
            str(default_soundfont()),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 works, 16 versions" in " ".join(result.stdout.split())
    assert "pop909-005: " in result.stderr and "unreadable MIDI" in result.stderr
    shown = CliRunner().invoke(app, ["data", "inspect", str(out), "-o", str(tmp_path / "c.png"), "--works", "2"])
    assert shown.exit_code == 0 and (tmp_path / "c.png").exists() and "versions" in shown.stdout


def test_cli_trains_a_toy_model_and_resumes(sources, tmp_path):
    from typer.testing import CliRunner

    from homage.cli.app import app

    if not have_synth():
        pytest.skip(SYNTH_REASON)
    out = tmp_path / "corpus"
    build(out, settings(sources, fractions=(0.5, 0.5), audio=()))
    tiny = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    args = ["train", str(tiny), f"corpus={out}", f"out={tmp_path / 'run'}", "epochs=1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "epoch 1 train_loss" in first.stderr and (tmp_path / "run" / "best.pt").exists()
    resumed = CliRunner().invoke(app, [*args[:-1], "epochs=2", "--resume"])
    assert resumed.exit_code != 0 and "another configuration" in resumed.stderr  # epochs is part of the config
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0 and "resumed" in again.stderr and "epoch 2" not in again.stderr


def test_a_sung_lead_glides_into_notes_and_grows_vibrato_on_held_ones():
    part = pretty_midi.Instrument(0, name="MELODY")
    part.notes = [pretty_midi.Note(90, 60, 0.0, 1.0), pretty_midi.Note(90, 61, 1.0, 2.5)]
    arrange.sing(part, np.random.default_rng(0), vibrato_cents=35.0, drift_cents=0.0)
    t = np.array([b.time for b in part.pitch_bends])
    cents = np.array([b.pitch for b in part.pitch_bends]) / 8191 * 200
    assert cents[np.argmin(np.abs(t - 1.0))] == pytest.approx(-100, abs=2)  # starts at the note before
    held = cents[(t > 1.8) & (t < 2.5)]
    assert held.max() == pytest.approx(35, abs=3) and held.min() == pytest.approx(-35, abs=3)
    assert np.abs(cents[(t > 0.02) & (t < 0.2)]).max(initial=0) < 3  # no vibrato at a note's start
    assert part.pitch_bends[-1].pitch == 0 and t[-1] == pytest.approx(2.5)


def test_a_wandering_tempo_keeps_the_order_and_about_the_length():
    midi = pretty_midi.PrettyMIDI()
    part = pretty_midi.Instrument(0)
    part.notes = [pretty_midi.Note(80, 60, 0.5 * k, 0.5 * k + 0.4) for k in range(120)]
    midi.instruments.append(part)
    played = arrange.drift_tempo(midi, 0.06, np.random.default_rng(1))
    starts = np.array([n.start for n in played.instruments[0].notes])
    gaps = np.diff(starts)
    assert (gaps > 0).all() and np.all([n.end > n.start for n in played.instruments[0].notes])
    assert gaps.std() / gaps.mean() > 0.01  # the beat is no longer even
    assert abs(played.get_end_time() / midi.get_end_time() - 1) < 0.1


def test_detune_moves_the_pitch_by_cents():
    from homage.data.build import detune

    sr = 22050
    y = np.sin(2 * np.pi * 440.0 * np.arange(2 * sr) / sr).astype(np.float32)[:, None]
    out = detune(y, sr, 50.0)[:, 0]
    peak = np.argmax(np.abs(np.fft.rfft(out * np.hanning(len(out))))) * sr / len(out)
    assert peak == pytest.approx(440 * 2 ** (50 / 1200), abs=1.0)


def test_humanized_build_sings_the_leads_and_detunes_each_render(sources, tmp_path):
    if not have_synth():
        pytest.skip(SYNTH_REASON)
    build(tmp_path / "live", settings(sources, humanize=True, max_works=2))
    rows = [r for r in read_manifest(tmp_path / "live") if r["source"] == "pop909"]
    assert rows and all(abs(r["render"]["detune_cents"]) <= 50 for r in rows)
    assert all(r["params"]["performed"]["vibrato_cents"] and r["params"]["performed"]["tempo_drift"] > 0 for r in rows)
    assert len({r["render"]["detune_cents"] for r in rows}) == len(rows)


def test_a_long_performed_version_may_leave_out_or_repeat_a_section():
    from homage.data.versions import SECTION_EDITS_FROM, perform

    midi = pretty_midi.PrettyMIDI()
    part = pretty_midi.Instrument(0, name="MELODY")
    part.notes = [
        pretty_midi.Note(80, 60 + k % 12, 0.5 * k, 0.5 * k + 0.4) for k in range(int(2.4 * SECTION_EDITS_FROM))
    ]
    midi.instruments.append(part)
    lengths = {}
    for seed in range(12):
        params = {}
        played = perform(midi, params, np.random.default_rng(seed))
        change = sum(
            (e["end"] - e["start"]) * (1 if e["kind"] == "repeat" else -1) for e in params["performed"]["sections"]
        )
        lengths[seed] = (played.get_end_time(), midi.get_end_time() + change)
        assert all(10 <= e["end"] - e["start"] <= 30 for e in params["performed"]["sections"])
    assert any(abs(a - midi.get_end_time()) > 5 for a, _ in lengths.values())  # some versions are edited
    assert all(abs(a / b - 1) < 0.1 for a, b in lengths.values())  # by what their parameters say
    short = pretty_midi.PrettyMIDI()
    short.instruments.append(pretty_midi.Instrument(0, name="MELODY"))
    short.instruments[0].notes = part.notes[:40]
    params = {}
    perform(short, params, np.random.default_rng(0))
    assert params["performed"]["sections"] == []


def test_singing_a_part_without_notes_changes_nothing():
    part = pretty_midi.Instrument(0, name="MELODY")
    arrange.sing(part, np.random.default_rng(0))
    assert part.pitch_bends == []


def _line(steps: int, step: float = 0.25) -> pretty_midi.Instrument:
    part = pretty_midi.Instrument(0, name="MELODY")
    part.notes = [
        pretty_midi.Note(80, 60 + (5 * k) % 12, step * k, step * k + 0.9 * step * (2 if k % 8 == 7 else 1))
        for k in range(steps)
        if k % 8 != 0
    ]
    return part


def test_a_rephrased_line_moves_onsets_by_its_step_and_keeps_its_notes_apart():
    written = _line(400)
    sung = _line(400)
    arrange.rephrase(sung, np.random.default_rng(0), shift=0.3, split=0.2, ornament=0.15, neighbour=0.08)
    starts = np.array([n.start for n in sung.notes])
    ends = np.array([n.end for n in sung.notes])
    assert (np.diff(starts) > 0).all() and (ends[:-1] <= starts[1:] + 1e-9).all() and (ends > starts).all()
    off_grid = np.abs(starts / 0.25 - np.round(starts / 0.25)) > 0.02
    assert 0.05 < off_grid.mean() < 0.3  # grace notes (and only they) fall between the steps
    on_grid = set(np.round(starts[~off_grid] / 0.25).astype(int))
    written_steps = {round(n.start / 0.25) for n in written.notes}
    assert 0.6 < len(on_grid & written_steps) / len(written_steps) < 0.95  # some anticipated or delayed, most kept
    same = _line(400)
    arrange.rephrase(same, np.random.default_rng(0), shift=0, split=0, ornament=0, neighbour=0)
    assert [(n.pitch, n.start, n.end) for n in same.notes] == [(n.pitch, n.start, n.end) for n in written.notes]


def test_reharmonised_chords_are_coloured_or_relative_and_rate_zero_keeps_them():
    chords = [
        arrange.Chord(2.0 * k, 2.0 * k + 2, k % 12, (0, 4, 7) if k % 2 else (0, 3, 7), k % 12) for k in range(300)
    ]
    assert arrange.reharmonise(chords, 0.0, np.random.default_rng(0)) == chords
    heard = arrange.reharmonise(chords, 1.0, np.random.default_rng(0))
    relative = [h.root != c.root for c, h in zip(chords, heard)]
    assert 0.2 < np.mean(relative) < 0.45
    for chord, new in zip(chords, heard):
        tones = {(chord.root + i) % 12 for i in chord.intervals}
        new_tones = {(new.root + i) % 12 for i in new.intervals}
        assert new != chord and (len(tones & new_tones) >= 2)  # still the same harmony, heard another way
        assert (new.start, new.end) == (chord.start, chord.end)


def test_a_reinterpreted_build_is_another_draw_of_the_same_works_in_the_same_splits(corpus, sources, tmp_path):
    out, _ = corpus
    build(tmp_path / "vary", settings(sources, reinterpret=True, draw=1, max_works=3, audio=()))
    rows = read_manifest(tmp_path / "vary")
    first = {(r["work_id"], r["version_id"]): r for r in read_manifest(out)}
    assert rows and all("rephrased" in r["params"] for r in rows)
    assert all(0.1 <= r["params"]["reharmonised"] <= 0.4 for r in rows if r["params"]["arrangement"] == "rearranged")
    assert all(r["split"] == first[r["work_id"], r["version_id"]]["split"] for r in rows)
    assert all(
        r["params"]["score_start"] != first[r["work_id"], r["version_id"]]["params"]["score_start"] for r in rows
    )


def test_rephrasing_a_line_with_chords_and_grace_notes_in_it_keeps_every_note_valid():
    part = _line(200)
    part.notes += [pretty_midi.Note(70, n.pitch + 4, n.start + 0.01, n.start + 0.04) for n in part.notes[::3]]
    arrange.rephrase(part, np.random.default_rng(2), shift=1.0, split=0.5, ornament=0.5, neighbour=0.5)
    starts = np.array([n.start for n in part.notes])
    assert (np.diff(starts) > 0).all() and all(n.end - n.start > 0.02 for n in part.notes)


def test_a_resumed_build_drops_the_errors_of_works_it_has_since_rendered(tmp_path):
    if not have_synth():
        pytest.skip(SYNTH_REASON)
    songs = tmp_path / "pop909"
    make_song(songs / "001", seed=1)
    broken = songs / "002"
    make_song(broken, seed=2)
    (broken / "002.mid").write_bytes(b"MThd not really a MIDI file")
    own = settings({"pop909": str(songs), "audio": ()}, versions=2)
    log = tmp_path / "corpus" / "errors.jsonl"
    first = build(tmp_path / "corpus", own)
    assert [json.loads(line)["work_id"] for line in log.read_text().splitlines()] == ["pop909-002"] and first.errors
    shutil.rmtree(broken)
    make_song(broken, seed=2)  # the file mended
    resumed = build(tmp_path / "corpus", own)
    assert resumed.skipped == 1 and resumed.works == 2 and not resumed.errors
    assert log.read_text() == ""


def _timed_song() -> pretty_midi.PrettyMIDI:
    """Eight one-second notes; a lyric on each; the key changes at 3 s, the volume at 1 and 3 s."""
    midi = pretty_midi.PrettyMIDI()
    part = pretty_midi.Instrument(0)
    part.notes = [pretty_midi.Note(80, 60 + k, k, k + 1) for k in range(8)]
    part.control_changes = [pretty_midi.ControlChange(7, 100, 1.0), pretty_midi.ControlChange(7, 50, 3.0)]
    midi.instruments.append(part)
    midi.key_signature_changes = [pretty_midi.KeySignature(0, 0.0), pretty_midi.KeySignature(7, 3.0)]
    midi.time_signature_changes = [pretty_midi.TimeSignature(4, 4, 0.0)]
    midi.lyrics = [pretty_midi.Lyric(f"w{k}", float(k)) for k in range(8)]
    return midi


def _key_at(midi, t):
    return [k.key_number for k in midi.key_signature_changes if k.time <= t][-1]


def test_every_time_edit_moves_lyrics_and_signatures_as_it_moves_the_notes():
    song = _timed_song()
    sung = lambda midi: [(lyric.text, lyric.time) for lyric in midi.lyrics]  # noqa: E731

    cut = timing.cut_span(song, 2, 4)  # w2, w3 go with their notes; the key change at 3 s still happens
    assert sung(cut) == [("w0", 0), ("w1", 1), ("w4", 2), ("w5", 3), ("w6", 4), ("w7", 5)]
    assert (
        _key_at(cut, 1.9) == 0
        and _key_at(cut, 2.0) == 7
        and [c.value for c in cut.instruments[0].control_changes] == [100, 50]
    )

    repeated = timing.repeat_span(song, 2, 4)  # w2, w3 sung twice; the repeat starts in the key it started in
    assert [t for t, _ in sung(repeated)] == ["w0", "w1", "w2", "w3", "w2", "w3", "w4", "w5", "w6", "w7"]
    assert [_key_at(repeated, t) for t in (2.5, 3.5, 4.5, 5.5, 6.5)] == [0, 7, 0, 7, 7]

    part = timing.excerpt(song, 3.0, start=3.5)  # from 3.5 s: the key and volume in force, no earlier lyric
    assert sung(part) == [("w4", 0.5), ("w5", 1.5), ("w6", 2.5)]
    assert _key_at(part, 0) == 7 and [(c.value, c.time) for c in part.instruments[0].control_changes] == [(50, 0)]

    faster = timing.warp_times(song, lambda t: np.asarray(t) / 2)
    assert sung(faster)[3] == ("w3", 1.5) and _key_at(faster, 1.49) == 0 and _key_at(faster, 1.5) == 7
