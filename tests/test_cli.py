"""Every command through the real Typer app, on generated audio."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from homage import pipeline
from homage.cli.app import app

from conftest import needs_fluidsynth, synth_piece, write

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(autouse=True)
def _one_cache_for_these_tests(shared_cache, monkeypatch):
    """The commands here share one feature cache, as a user's runs do: each file is analysed (and its words
    transcribed) once, not once per test. Keys are file contents, so no test sees another's results."""
    monkeypatch.setenv("HOMAGE_CACHE", str(shared_cache))


@pytest.fixture
def library(piece_dir, tmp_path):
    """The pieces plus one file of each kind of bad input, in a folder tree."""
    root = tmp_path / "library"
    shutil.copytree(piece_dir, root)
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.mp3").touch()
    (bad / "text.flac").write_text("not audio at all " * 50)
    write(bad / "silence.wav", synth_piece(1, seconds=3) * 0)
    write(bad / "blip.wav", synth_piece(1, seconds=0.3))
    good = (root / "work1" / "original.wav").read_bytes()
    (bad / "cut.wav").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("not an audio extension: ignored")
    return root


def test_index_reports_bad_files_and_goes_on(library, tmp_path):
    catalog = tmp_path / "cat"
    result = run("index", library, "--catalog", catalog, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["found"] == 11 and report["added"] == 7  # the truncated file is indexed, with a warning
    reasons = {f["path"].split("/")[-1]: f["reason"] for f in report["failed"]}
    assert set(reasons) == {"empty.mp3", "text.flac", "silence.wav", "blip.wav"}
    assert "empty" in reasons["empty.mp3"] and "silent" in reasons["silence.wav"]
    assert "too short" in reasons["blip.wav"] and "text" in reasons["text.flac"]
    (warning,) = report["warnings"]
    assert "cut.wav: truncated: the header says 24.0 s but only 12.0 s could be decoded" in warning

    again = json.loads(run("index", library, "--catalog", catalog, "--json").stdout)
    assert again["unchanged"] == 7 and again["added"] == 0  # unchanged files are skipped by hash

    text = run("index", library, "--catalog", catalog)
    assert "7 unchanged" in text.stdout and "4 failed" in text.stdout
    assert "empty.mp3: empty file" in text.output  # one line per failure, naming the file


def test_index_prune_and_remove(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library, "--catalog", catalog)
    (library / "work3" / "original.mp3").unlink()
    pruned = json.loads(run("index", library, "--catalog", catalog, "--prune", "--json").stdout)
    assert pruned["removed"] == 1
    result = run("remove", library / "work2" / "original.wav", "--catalog", catalog)
    assert "removed 1 of 1" in result.stdout
    assert json.loads(run("info", "--catalog", catalog, "--json").stdout)["recordings"] == 5  # with cut.wav


def test_query_ranks_the_versions_first(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library, "--catalog", catalog)
    for rerank in ("0", "100"):  # embedding only, and re-ranked by alignment (the default)
        result = run(
            "query", library / "work1" / "original.wav", "--catalog", catalog, "-k", "3", "--rerank", rerank, "--json"
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert [r["rank"] for r in data["results"]] == [1, 2, 3]
        top2 = {r["path"].split("/")[-2] for r in data["results"][:2]}
        assert top2 == {"work1"}  # both other versions of work1, the query itself excluded
        assert all(r["path"] != str(library / "work1" / "original.wav") for r in data["results"])
    default = json.loads(run("query", library / "work1" / "original.wav", "--catalog", catalog, "--json").stdout)
    assert all("alignment_score" in r for r in default["results"])  # every candidate of this small catalog aligned
    table = run("query", library / "work1" / "original.wav", "--catalog", catalog, "--rerank", "0")
    assert "similarity" in table.stdout and "faster.ogg" in table.stdout


def test_query_rerank_aligns_the_top_candidates(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library, "--catalog", catalog)
    result = run(
        "query", library / "work1" / "original.wav", "--catalog", catalog, "-k", "4", "--rerank", "3", "--json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert all("alignment_score" in r for r in rows[:3]) and "alignment_score" not in rows[3]
    assert {r["path"].split("/")[-2] for r in rows[:2]} == {"work1"}
    assert rows[0]["alignment_score"] > min(r["alignment_score"] for r in rows[:3])
    by_name = {r["path"].split("/")[-1]: r for r in rows}
    assert by_name["transposed.flac"]["transposition_semitones"] == 3
    table = run("query", library / "work1" / "original.wav", "--catalog", catalog, "--rerank", "3")
    assert "verdict" in table.stdout and "alignment" in table.stdout


def test_compare_report(library, tmp_path):
    result = run(
        "compare", library / "work1" / "original.wav", library / "work1" / "faster.ogg", "--report", tmp_path / "rep"
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "**Verdict: version**" in report and "| 1 |" in report and "-2 semitones" in report
    assert "No lyric evidence" in report  # synthesised tones have no words
    assert (tmp_path / "rep" / "alignment.png").read_bytes()[:4] == b"\x89PNG"


def test_query_with_a_bad_file_fails_with_the_reason(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library / "work1", "--catalog", catalog)
    result = run("query", library / "bad" / "empty.mp3", "--catalog", catalog)
    assert result.exit_code == 1
    assert "empty.mp3: empty file (0 bytes)" in result.stderr
    missing = run("query", library / "work1" / "original.wav", "--catalog", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no catalog here" in missing.stderr


def test_compare(library):
    versions = run("compare", library / "work1" / "original.wav", library / "work1" / "transposed.flac", "--json")
    other = run("compare", library / "work1" / "original.wav", library / "work2" / "original.wav", "--json")
    assert versions.exit_code == 0 and other.exit_code == 0
    same, different = json.loads(versions.stdout), json.loads(other.stdout)
    assert same["similarity"] > different["similarity"]
    assert same["alignment"]["transposition_semitones"] == 3  # transposed.flac is 3 semitones up
    assert same["alignment"]["score"] > different["alignment"]["score"]
    segment = same["alignment"]["segments"][0]
    assert segment["a_end"] - segment["a_start"] > 15  # most of the 24 s piece matches
    assert same["verdict"] == "version" and same["probability"] > 0.7
    assert different["probability"] < same["probability"]
    # work2 loops chords of work1's key and triads (CRP alignment: p ≈ 0.7); work3 shares less
    text = run("compare", library / "work1" / "original.wav", library / "work3" / "original.mp3")
    assert text.stdout.split()[0] in ("unrelated", "maybe") and "Matched segments" in text.stdout
    bad = run("compare", library / "work1" / "original.wav", library / "bad" / "text.flac")
    assert bad.exit_code == 1 and "text.flac: not a readable audio file" in bad.stderr


def test_info(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library / "work1", "--catalog", catalog, "--ann", "hnsw")
    info = json.loads(run("info", "--catalog", catalog, "--json").stdout)
    assert info["recordings"] == 3 and info["index_kind"] == "hnsw" and info["embedder"].startswith("csi@")
    assert "recordings" in run("info", "--catalog", catalog).stdout


def test_catalog_refuses_another_embedder(library, tmp_path, monkeypatch):
    import homage.models as models
    from homage.models.ftm2d import FTM2D, FTM2DConfig

    catalog = tmp_path / "cat"
    run("index", library / "work1", "--catalog", catalog)
    monkeypatch.setitem(models._REGISTRY, "short", lambda: FTM2D(FTM2DConfig(patch_len=40)))
    result = run("index", library / "work2", "--catalog", catalog, "--embedder", "short")
    assert result.exit_code == 1 and "holds vectors of csi@" in result.stderr


def test_help_lists_every_command():
    result = run("--help")
    for command in ("index", "query", "compare", "info", "remove", "demo"):
        assert command in result.stdout


@needs_fluidsynth
@pytest.mark.integration  # renders twelve 30-s versions with FluidSynth: half a minute
def test_demo_finds_the_versions_even_over_a_catalog_left_by_another_embedder(tmp_path, library):
    stale = run("index", library / "work1", "--catalog", tmp_path / "demo" / "catalog", "--embedder", "ftm2d")
    assert stale.exit_code == 0, stale.output
    result = run("demo", "--out", tmp_path / "demo", "--versions", "2", "--no-lyrics")  # rendered music: no words
    assert result.exit_code == 0, result.output
    assert "✓ its other version ranks 1" in result.stdout
    assert pipeline.catalog_info(tmp_path / "demo" / "catalog")["embedder"].startswith("csi@")


def test_every_command_reports_a_bad_parameter_as_one_error_line(library, tmp_path):
    catalog = tmp_path / "cat"
    run("index", library / "work1", "--catalog", catalog)
    song = library / "work1" / "original.wav"
    (tmp_path / "bad.yaml").write_text("loss: nonsense\n")
    bad_calls = {
        "index": ["index", library, "--catalog", catalog, "-j", "0"],
        "query": ["query", song, "--catalog", catalog, "--max-minutes", "0"],
        "compare": ["compare", song, song, "--embedder", "nope"],
        "info": ["info", "--catalog", tmp_path / "nowhere"],
        "remove": ["remove", song, "--catalog", tmp_path / "nowhere"],
        "evaluate": ["evaluate", library, "-p", "nope"],
        "train": ["train", tmp_path / "bad.yaml"],
        "data build": [
            "data",
            "build",
            tmp_path / "corpus",
            "--split",
            "dev",
            "--no-debian-music",
            "--pop909",
            library,
        ],
    }
    for name, args in bad_calls.items():
        result = run(*args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1, (name, result.output)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, result.stderr)


def test_library_query_is_what_the_command_prints(library, tmp_path):
    from homage import lyrics, pipeline

    catalog = tmp_path / "cat"
    run("index", library, "--catalog", catalog)
    song = library / "work1" / "faster.ogg"
    printed = json.loads(run("query", song, "--catalog", catalog, "--json").stdout)
    called = pipeline.query(song, catalog).to_json()  # no arguments: the command's defaults
    expected = "csi+rerank100+lyrics" if lyrics.available() else "csi+rerank100"  # the words when they can be read
    assert printed["ranking"] == called["ranking"] == expected
    assert [r["path"] for r in printed["results"]] == [r["path"] for r in called["results"]]
    assert [r["verdict"] for r in printed["results"]] == [r["verdict"] for r in called["results"]]


def test_a_symlinked_folder_is_indexed_once_and_a_loop_does_not_stop_the_run(piece_dir, tmp_path):
    root = tmp_path / "links"
    root.mkdir()
    (root / "real").symlink_to(piece_dir / "work1", target_is_directory=True)  # a linked folder
    (root / "again").symlink_to(piece_dir / "work1", target_is_directory=True)  # the same folder twice
    (root / "loop").mkdir()
    (root / "loop" / "back").symlink_to(root, target_is_directory=True)  # a loop
    (root / "copy.wav").symlink_to(piece_dir / "work1" / "original.wav")  # a link beside its target
    report = json.loads(run("index", root, "--catalog", tmp_path / "cat", "--json").stdout)
    assert report["added"] == 3 and report["failed"] == []  # work1's three files, each once
    paths = [
        r["path"]
        for r in json.loads(
            run("query", piece_dir / "work2" / "original.wav", "--catalog", tmp_path / "cat", "--json").stdout
        )["results"]
    ]
    assert all(p.startswith(str(root)) for p in paths)  # under the path the user gave, not the target


def test_plain_progress_and_unwrapped_lines_when_not_a_terminal(library, tmp_path, monkeypatch):
    from homage.cli.common import FileProgress

    monkeypatch.setattr(FileProgress, "EVERY_S", 0.0)  # a line per file instead of every few seconds
    catalog = tmp_path / ("a-catalog-folder-with-a-long-name-" * 3)
    result = run("index", library, "--catalog", catalog)
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("embedding: ")]
    assert progress and progress[-1].startswith("embedding: 11/11 done, 4 failed")
    (summary,) = [line for line in result.stdout.splitlines() if "audio files:" in line]
    assert summary.endswith(str(catalog))  # one line, however long


def test_an_unusable_feature_cache_is_one_warning_and_the_work_goes_on(library, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("HOMAGE_CACHE", str(tmp_path / "a-file" / "cache"))
    result = run("index", library / "work1", "--catalog", tmp_path / "cat", "--json", "-j", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 3
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "feature cache" in warnings[0] and "cannot be written" in warnings[0]


def test_prune_drops_the_entry_of_a_removed_link(piece_dir, tmp_path):
    root = tmp_path / "library"
    root.mkdir()
    (root / "linked.wav").symlink_to(piece_dir / "work1" / "original.wav")  # a link to a file outside the folder
    (root / "own.flac").write_bytes((piece_dir / "work2" / "original.wav").read_bytes())
    catalog = tmp_path / "cat"
    first = json.loads(run("index", root, "--catalog", catalog, "--json").stdout)
    assert first["added"] == 2
    (root / "linked.wav").unlink()
    pruned = json.loads(run("index", root, "--catalog", catalog, "--prune", "--json").stdout)
    assert pruned["removed"] == 1 and pruned["unchanged"] == 1
    assert json.loads(run("info", "--catalog", catalog, "--json").stdout)["recordings"] == 1


def test_index_gives_each_recording_a_cohort_and_query_ranks_with_them(tmp_path):
    """A catalog large enough for cohorts (11 candidates each): a run measures all 12 (a bulk load left
    them), the next has none to do, and the S-normalised query still puts the version first."""
    root = tmp_path / "twelve"
    for work in range(6):
        write(root / f"work{work}" / "a.wav", synth_piece(10 + work, seconds=12))
        write(root / f"work{work}" / "b.wav", synth_piece(10 + work, seconds=12, transpose=2, tempo=1.1))
    catalog = tmp_path / "cat"
    bulk = run("index", root, "--catalog", catalog, "--no-cohorts", "--json")  # a bulk load leaves them
    assert bulk.exit_code == 0, bulk.output
    assert json.loads(bulk.stdout)["added"] == 12 and json.loads(bulk.stdout)["cohorts"] == 0
    first = run("index", root, "--catalog", catalog, "--json")  # nothing new to add: the cohorts are measured
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["unchanged"] == 12 and json.loads(first.stdout)["cohorts"] == 12
    assert json.loads(run("index", root, "--catalog", catalog, "--json").stdout)["cohorts"] == 0
    rows = json.loads(run("query", root / "work3" / "a.wav", "--catalog", catalog, "-k", "3", "--json").stdout)[
        "results"
    ]
    assert rows[0]["path"] == str(root / "work3" / "b.wav")


def test_a_missing_extra_is_named_literally(monkeypatch, capsys):
    """ "homage[data]" is printed as it is, not read as console markup."""
    import builtins

    from homage.cli.common import command

    real_import = builtins.__import__

    def without_pretty_midi(name, *args, **kwargs):
        if name == "pretty_midi":
            raise ModuleNotFoundError("No module named 'pretty_midi'", name="pretty_midi")
        return real_import(name, *args, **kwargs)

    @command
    def needs_data():
        import pretty_midi  # noqa: F401

    monkeypatch.setattr(builtins, "__import__", without_pretty_midi)
    import typer

    with pytest.raises(typer.Exit):
        needs_data()
    assert "pip install 'homage[data]'" in capsys.readouterr().err
