"""Fast subsets of the robustness harnesses (bench/robustness/fuzz_inputs.py, crash_index.py): every kind of
bad and odd input once, and a few index runs killed mid-way."""

from __future__ import annotations

import shutil

import pytest

from bench.common import HOMAGE
from bench.robustness import crash_index, full_disk, fuzz_inputs

pytestmark = pytest.mark.integration  # many processes, kills: run by .ci/run and `pytest -m integration`


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (run setup.sh)")
def test_every_kind_of_bad_input_is_refused_clearly_or_used(tmp_path):

    cases = fuzz_inputs.make_inputs(tmp_path / "run", per_kind=1, seed=3)
    assert len({c.kind for c in cases}) >= 15
    rows = fuzz_inputs.exercise(tmp_path / "run", cases, timeout=120)
    (tmp_path / "run" / "odd" / "permissions" / "closed").chmod(0o755)
    assert not [r for r in rows if r["traceback"] or r["hang"]]
    assert not [r["path"] for r in rows if r["refused"] and not r["clear"]]
    assert not [r["path"] for r in rows if r["lost"]]
    truncated = [r for r in rows if r["kind"] == "truncated wav" and r["command"] == "index"]
    assert truncated and all(r["accepted"] and r["warned"] for r in truncated)


def test_killed_index_runs_leave_a_sound_catalog(tmp_path):

    from homage.catalog import Catalog

    good = crash_index.make_library(tmp_path / "library", 8, seed=1)
    env = {"HOMAGE_CACHE": str(tmp_path / "cache")}
    import os

    env = {**os.environ, **env}
    catalog = tmp_path / "catalog"
    committed: set[str] = set()
    for after in (0.8, 2.0, 3.5):
        crash_index.run_and_kill(["index", str(tmp_path / "library"), "--catalog", str(catalog), "-j", "2"], after, env)
        state = crash_index.catalog_state(catalog)
        assert state["ok"] and len(state["paths"]) == len(set(state["paths"]))
        assert committed <= set(state["paths"])  # nothing committed is lost
        assert crash_index.opens_and_answers(catalog)
        committed = set(state["paths"])
    crash_index.run_and_kill(["index", str(tmp_path / "library"), "--catalog", str(catalog)], 120, env)
    with Catalog(catalog) as cat:
        assert sorted(r.path for r in cat.recordings()) == sorted(map(str, good))


def test_ctrl_c_keeps_what_was_finished_and_says_so(tmp_path):
    import os
    import signal
    import subprocess
    import time

    crash_index.make_library(tmp_path / "library", 80, seed=2)
    env = {**os.environ, "HOMAGE_CACHE": str(tmp_path / "cache")}
    catalog = tmp_path / "catalog"
    # A job started in the background by a non-interactive shell inherits SIGINT ignored: undo that in the
    # child, as a terminal's Ctrl-C reaches a foreground command.
    process = subprocess.Popen(
        [*HOMAGE, "index", str(tmp_path / "library"), "--catalog", str(catalog), "-j", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60  # wait until a first file is analysed (its embedding cached), then a moment
    while time.monotonic() < deadline and not any((tmp_path / "cache").glob("embedding-*/*/*.npy")):
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted; what was finished is kept" in err and "Traceback" not in err
    kept = crash_index.catalog_state(catalog)["paths"]
    assert 0 < len(kept) < 80  # the files finished before Ctrl-C were committed, not thrown away


def test_a_full_disk_stops_index_with_one_line_and_the_catalog_answers_as_before(tmp_path):
    try:
        rows = full_disk.exercise(tmp_path, files=8, margin_kb=16, timeout=120)
    except full_disk.CannotMount as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}): needs root")
    filled, again, grown = rows[1], rows[2], rows[3]
    assert rows[0]["exit"] == 0 and rows[0]["recordings"] == 4
    for row in (filled, again):
        assert row["exit"] == 1 and not row["traceback"]
        assert row["last line"].startswith("error: ")
        assert "no space left on the disk holding the catalog" in row["last line"]
        assert row["integrity"] == "ok" and row["recordings"] == 4 and row["answers"]
    assert grown["exit"] == 0 and grown["recordings"] == 8 and grown["answers"]
