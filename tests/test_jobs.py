"""The catalog jobs on generated audio: a scan flags the planted version and not the unrelated piece,
reports a bad file and resumes; groups recover the planted works and take new recordings in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from homage import pipeline
from homage.reports import write_scan_report

from conftest import synth_piece, write


@pytest.fixture
def catalog(piece_dir, tmp_path):
    """One recording of each work (the originals) in a catalog."""
    path = tmp_path / "catalog"
    for work in ("work1", "work2", "work3"):
        original = next((piece_dir / work).glob("original.*"))
        pipeline.index_dir(original, path, workers=1)
    return path


def test_scan_flags_the_planted_version_reports_bad_files_and_resumes(catalog, piece_dir, tmp_path):
    releases = tmp_path / "releases"
    write(releases / "borrowed.flac", synth_piece(1, transpose=3))  # a version of work1
    write(releases / "unrelated.wav", synth_piece(9))
    (releases / "broken.mp3").write_text("not audio")
    state = tmp_path / "scan.jsonl"
    report = pipeline.scan(releases, catalog, workers=1, state=state)
    assert report.scanned == 2 and [f.path.split("/")[-1] for f in report.failed] == ["broken.mp3"]
    flagged = {(f.path.split("/")[-1], f.recording["path"].split("/")[-2]) for f in report.flags}
    assert ("borrowed.flac", "work1") in flagged
    assert not [f for f in report.flags if f.path.endswith("unrelated.wav") and f.verdict == "version"]
    borrowed = next(f for f in report.flags if f.path.endswith("borrowed.flac") and "work1" in f.recording["path"])
    assert borrowed.verdict == "version"
    assert borrowed.alignment["transposition_semitones"] == -3  # the catalogued one is 3 semitones below the new
    # interrupted (here: a torn last line, as a kill leaves it), then run again: only what is new is scanned
    with open(state, "a") as fh:
        fh.write('{"path": "torn')
    write(releases / "later.wav", synth_piece(2, transpose=-1))
    again = pipeline.scan(releases, catalog, workers=1, state=state)
    assert again.resumed == 2 and again.scanned == 1
    assert any(f.path.endswith("later.wav") and "work2" in f.recording["path"] for f in again.flags)
    page = write_scan_report(again, tmp_path / "report")
    text = page.read_text()
    assert "borrowed.flac" in text and "data:image/png;base64," in text and "broken.mp3" in text
    assert "later.wav" in (tmp_path / "report" / "flagged.csv").read_text()


def test_scan_command_prints_flags_as_json(catalog, tmp_path):
    from typer.testing import CliRunner

    from homage.cli.app import app

    releases = tmp_path / "releases"
    write(releases / "borrowed.wav", synth_piece(1, tempo=1.15))
    result = CliRunner().invoke(
        app,
        [
            "scan",
            str(releases),
            "--catalog",
            str(catalog),
            "--json",
            "-j",
            "1",
            "--threshold",
            "version",
            "--state",
            str(tmp_path / "s.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["threshold"] == "version" and data["flagged"][0]["recording"]["path"].split("/")[-2] == "work1"


def test_groups_recover_the_planted_works_and_take_new_recordings_in(piece_dir, tmp_path):
    catalog = tmp_path / "catalog"
    pipeline.index_dir(piece_dir, catalog, workers=1)
    report = pipeline.groups(catalog)
    assert report.recordings == 6 and report.grouped == 6
    rows = pipeline.group_table(catalog)
    by_work: dict[str, set[int]] = {}
    for row in rows:
        by_work.setdefault(row["path"].split("/")[-2], set()).add(row["group"])
    assert all(len(g) == 1 for g in by_work.values())  # each work in one group
    assert len({next(iter(g)) for g in by_work.values()}) == 3  # and no two works share one
    assert {row["group_size"] for row in rows if "work1" in row["path"]} == {3}
    # a new version joins its work's group; the others keep theirs
    write(tmp_path / "new" / "cover.wav", synth_piece(2, transpose=2, tempo=0.9))
    pipeline.index_dir(tmp_path / "new", catalog, workers=1)
    again = pipeline.groups(catalog)
    assert again.grouped == 1
    rows = {
        row["path"].split("/")[-1] if "new" in row["path"] else row["path"]: row
        for row in pipeline.group_table(catalog)
    }
    work2 = {row["group"] for path, row in rows.items() if "/work2/" in path}
    assert rows["cover.wav"]["group"] in work2 and rows["cover.wav"]["group_size"] == 3
    assert pipeline.catalog_info(catalog)["groups"] == 3


def test_one_strong_link_does_not_chain_two_works(tmp_path):
    """B contains the first half of A and the second half of C: B links to both, but A and C stay apart."""
    a, c = synth_piece(5, seconds=30), synth_piece(9, seconds=30)  # A and C align at p ≈ 0.14
    half = len(a) // 2
    write(tmp_path / "music" / "a.wav", a)
    write(tmp_path / "music" / "c.wav", c)
    write(tmp_path / "music" / "b.wav", np.concatenate([a[:half], c[half:]]))
    pipeline.index_dir(tmp_path / "music", tmp_path / "catalog", workers=1)
    pipeline.groups(tmp_path / "catalog")
    rows = {row["path"].split("/")[-1]: row for row in pipeline.group_table(tmp_path / "catalog")}
    groups = {name: row["group"] for name, row in rows.items()}
    assert groups["a.wav"] != groups["c.wav"]  # not chained through B …
    assert groups["b.wav"] in (groups["a.wav"], groups["c.wav"])  # … though B joined one of them
    assert rows["b.wav"]["strongest_link"].split("/")[-1] in ("a.wav", "c.wav") and rows["b.wav"]["probability"] >= 0.7


def test_query_shows_the_groups(piece_dir, tmp_path):
    catalog = tmp_path / "catalog"
    pipeline.index_dir(piece_dir, catalog, workers=1)
    assert all(m.group is None for m in pipeline.query(piece_dir / "work1" / "original.wav", catalog).matches)
    pipeline.groups(catalog)
    result = pipeline.query(piece_dir / "work1" / "original.wav", catalog).to_json()
    work1 = [r["group"] for r in result["results"] if "/work1/" in r["path"]]
    assert len(set(work1)) == 1 and work1[0] is not None


def test_a_scan_after_the_catalog_changed_answers_anew(catalog, piece_dir, tmp_path):
    """The resumed state is reused only while the answer cannot have changed: a version added to the
    catalog after a first scan is flagged by the second."""
    releases = tmp_path / "releases"
    write(releases / "borrowed.flac", synth_piece(5, transpose=2))
    state = tmp_path / "scan.jsonl"
    first = pipeline.scan(releases, catalog, workers=1, state=state)
    assert first.scanned == 1 and not [f for f in first.flags if f.verdict == "version"]
    pipeline.index_dir(write(tmp_path / "new" / "original5.wav", synth_piece(5)), catalog, workers=1)
    second = pipeline.scan(releases, catalog, workers=1, state=state)
    assert second.scanned == 1 and second.resumed == 0
    assert any(f.recording["path"].endswith("original5.wav") and f.verdict == "version" for f in second.flags)
    third = pipeline.scan(releases, catalog, workers=1, state=state)  # nothing changed: resumed
    assert third.resumed == 1 and third.scanned == 0 and third.flags == second.flags


def test_compare_query_and_groups_judge_a_pair_alike(tmp_path):
    """One judgement of a pair: compare, query (one candidate judged) and groups give one probability."""
    music = tmp_path / "music"
    a = write(music / "a.wav", synth_piece(3, seconds=20.0))
    b = write(music / "b.wav", synth_piece(3, transpose=2, tempo=1.1, seconds=24.0))
    catalog = tmp_path / "catalog"
    pipeline.index_dir(music, catalog, workers=1)
    pipeline.groups(catalog)
    compared = pipeline.compare(a, b).probability
    (match,) = pipeline.query(a, catalog, k=1).matches
    linked = {row["path"].split("/")[-1]: row["probability"] for row in pipeline.group_table(catalog)}
    assert match.recording.path == str(b)
    assert match.probability == pytest.approx(compared, abs=1e-4) and linked["a.wav"] == pytest.approx(
        compared, abs=1e-4
    )


@pytest.mark.integration  # worker processes: half a minute
def test_cohorts_and_groups_on_two_workers_are_those_of_one(tmp_path):
    """The cohorts `index` measures and the links `groups` aligns run on the executor; the answers do not
    depend on how many processes computed them."""
    from homage.catalog import Catalog

    root = tmp_path / "twelve"  # enough recordings for cohorts (11 candidates each)
    for work in range(6):
        write(root / f"work{work}" / "a.wav", synth_piece(10 + work, seconds=12))
        write(root / f"work{work}" / "b.wav", synth_piece(10 + work, seconds=12, transpose=2, tempo=1.1))
    for workers in (1, 2):
        pipeline.index_dir(root, tmp_path / f"cat{workers}", workers=workers, words=False)
        pipeline.groups(tmp_path / f"cat{workers}", workers=workers)
    with Catalog(tmp_path / "cat1") as one, Catalog(tmp_path / "cat2") as two:
        ids = one.ids()
        assert ids == two.ids() and len(one.cohorts(ids)) == len(ids) == 12
        for rid in ids:
            np.testing.assert_allclose(one.cohorts([rid])[rid][1], two.cohorts([rid])[rid][1], rtol=1e-5)
        grouped = one.groups()
        assert grouped == two.groups() and all(grouped[a][0] == grouped[a + 1][0] for a in ids[::2])  # a, b together
