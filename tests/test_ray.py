"""`homage index --ray` on a local Ray with two worker processes: the same vectors and the same failures as
the local path, and a job killed mid-way then run again ends with every file committed once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.integration  # many processes, kills: run by .ci/run and `pytest -m integration`

pytest.importorskip("ray", reason="Ray is an extra (pip install 'homage[ray]')")

from homage import pipeline  # noqa: E402
from homage.catalog import Catalog  # noqa: E402
from homage.parallel import RayExecutor  # noqa: E402

from conftest import synth_piece, write  # noqa: E402


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def library(piece_dir, tmp_path):
    import shutil

    root = tmp_path / "library"
    shutil.copytree(piece_dir, root)
    (root / "bad.mp3").write_text("not audio at all " * 40)
    return root


def vectors(catalog) -> dict[str, np.ndarray]:
    with Catalog(catalog) as cat:
        ids, X = cat.vectors()
        return {cat.by_ids([i])[i].path.split("/library/")[1]: x for i, x in zip(ids.tolist(), X)}


def test_ray_indexes_what_the_local_path_indexes(ray_local, library, tmp_path):
    local = pipeline.index_dir(library, tmp_path / "local", workers=2)
    on_ray = pipeline.index_dir(library, tmp_path / "ray", workers=RayExecutor(workers=2))
    assert on_ray.added == local.added == 6
    assert [(f.path, f.reason) for f in on_ray.failed] == [(f.path, f.reason) for f in local.failed]
    a, b = vectors(tmp_path / "local"), vectors(tmp_path / "ray")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5)


def test_a_killed_ray_job_resumes_and_commits_every_file_once(library, tmp_path):
    for i in range(120):  # enough that the first committed batch (32 files) comes long before the end
        write(library / "more" / f"piece{i:03d}.wav", synth_piece(100 + i, seconds=6))
    catalog = tmp_path / "catalog"
    env = {**os.environ, "HOMAGE_CACHE": str(tmp_path / "cache")}
    command = [
        sys.executable,
        "-c",
        "from homage.cli.app import main; main()",
        "index",
        str(library),
        "--catalog",
        str(catalog),
        "--ray",
        "-j",
        "2",
        "--json",
    ]
    job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the first batch is committed
        if (catalog / "catalog.sqlite").exists():
            with Catalog(catalog) as cat:
                if len(cat):
                    break
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    with Catalog(catalog) as cat:
        first = len(cat)
    assert 0 < first < 126
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["unchanged"] == first and report["added"] == 126 - first
    with Catalog(catalog) as cat:
        paths = [r.path for r in cat.recordings()]
    assert len(paths) == len(set(paths)) == 126
