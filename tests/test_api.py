"""`homage serve`: every endpoint through FastAPI's test client, on generated audio; bad uploads, the token,
range requests, path traversal; and /api/health answering while a comparison runs."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the API needs the [api] extra (pip install 'homage[api]')")
from fastapi.testclient import TestClient  # noqa: E402

from homage import pipeline  # noqa: E402
from homage.api.app import ServeSettings, create_app  # noqa: E402

TOKEN = {"X-Homage-Token": "s3cret"}


@pytest.fixture(scope="module")
def indexed(piece_dir, tmp_path_factory):
    catalog = tmp_path_factory.mktemp("api") / "catalog"
    pipeline.index_dir(piece_dir, catalog, workers=1)
    return catalog


@pytest.fixture
def server(indexed, tmp_path):
    """A client of a server over a copy of the catalog; uploads wait in ``tmp_path / "tmp"``."""
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(indexed, catalog)
    (tmp_path / "tmp").mkdir()
    settings = ServeSettings(catalog, token="s3cret", max_upload_mb=5, tmp=tmp_path / "tmp")
    with TestClient(create_app(settings)) as client:
        client.catalog, client.tmp = catalog, tmp_path / "tmp"
        yield client


def upload(path, name=None):
    return (name or path.name, path.read_bytes())


def test_health_and_the_page(server):
    health = server.get("/api/health").json()
    assert health["status"] == "ok" and health["recordings"] == 6 and health["embedder"].startswith("csi@")
    page = server.get("/")
    assert page.status_code == 200 and "homage" in page.text and "app.js" in page.text
    assert server.get("/app.js").status_code == 200 and server.get("/docs").status_code == 200


def test_compare_two_uploads(server, piece_dir):
    result = server.post(
        "/api/compare",
        files={"a": upload(piece_dir / "work1" / "original.wav"), "b": upload(piece_dir / "work1" / "transposed.flac")},
    )
    assert result.status_code == 200, result.text
    data = result.json()
    assert data["verdict"] == "version" and data["a"] == "original.wav" and data["b"] == "transposed.flac"
    assert data["alignment"]["transposition_semitones"] == 3 and data["summary"].startswith("B is 3 semitones higher")
    assert data["alignment"]["segments"][0]["a_end"] > 15
    png = server.get(data["alignment_image"])
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert list(server.tmp.iterdir()) == []  # the uploads are gone


def test_compare_with_a_catalogued_recording_and_query(server, piece_dir):
    found = server.post(
        "/api/query", files={"file": upload(piece_dir / "work1" / "faster.ogg", "my cover.ogg")}, data={"k": "3"}
    ).json()
    assert found["ranking"] == "csi+rerank100+lyrics" and found["query"] == "my cover.ogg"
    assert [r["rank"] for r in found["results"]] == [1, 2, 3]
    assert {r["path"].split("/")[-2] for r in found["results"][:2]} == {"work1"} and found["results"][0]["verdict"]
    best = found["results"][0]
    result = server.post(
        "/api/compare", files={"a": upload(piece_dir / "work1" / "faster.ogg")}, data={"b_id": best["id"]}
    )
    assert result.status_code == 200 and result.json()["b_id"] == best["id"] and result.json()["verdict"] == "version"


def test_recordings_paging_filter_audio_and_ranges(server):
    page = server.get("/api/recordings", params={"limit": 4}).json()
    assert page["total"] == 6 and len(page["recordings"]) == 4
    rest = server.get("/api/recordings", params={"offset": 4, "limit": 4}).json()
    assert len(rest["recordings"]) == 2
    assert {r["id"] for r in page["recordings"]}.isdisjoint(r["id"] for r in rest["recordings"])
    only = server.get("/api/recordings", params={"q": "transposed"}).json()
    assert only["total"] == 2 and all("transposed" in r["path"] for r in only["recordings"])
    one = only["recordings"][0]
    whole = server.get(f"/api/recordings/{one['id']}/audio")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = server.get(f"/api/recordings/{one['id']}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert server.get("/api/recordings/999999/audio").status_code == 404


def test_no_client_path_reaches_the_file_system(server):
    for attempt in (
        "/api/recordings/..%2F..%2F..%2Fetc%2Fpasswd/audio",
        "/api/recordings/../../etc/passwd",
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2F..%2Fpyproject.toml",
    ):
        response = server.get(attempt)
        assert response.status_code in (404, 422), attempt
        assert "root:" not in response.text


def test_add_and_remove_need_the_token(server, piece_dir):
    song = upload(piece_dir / "work2" / "original.wav", "new song.wav")
    refused = server.post("/api/recordings", files={"file": song})
    assert refused.status_code == 401 and "token" in refused.json()["detail"]
    assert server.get("/api/health").json()["recordings"] == 6
    added = server.post("/api/recordings", files={"file": song}, headers=TOKEN)
    assert added.status_code == 201, added.text
    record = added.json()
    assert record["path"].startswith(str(server.catalog / "uploads")) and "new song" in record["path"]
    assert server.get("/api/health").json()["recordings"] == 7
    assert server.delete(f"/api/recordings/{record['id']}").status_code == 401
    gone = server.delete(f"/api/recordings/{record['id']}", headers=TOKEN)
    assert gone.status_code == 200 and gone.json()["removed"] == 1
    assert server.get("/api/health").json()["recordings"] == 6 and list((server.catalog / "uploads").iterdir()) == []


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "oversize"])
def test_bad_uploads_get_a_one_line_reason_and_change_nothing(server, piece_dir, kind):
    good = (piece_dir / "work1" / "original.wav").read_bytes()
    data = {"empty": b"", "text": b"just some words " * 200, "truncated": good[:2000], "oversize": b"\0" * (6 << 20)}[
        kind
    ]
    for call in (
        lambda f: server.post("/api/compare", files={"a": f, "b": upload(piece_dir / "work2" / "original.wav")}),
        lambda f: server.post("/api/query", files={"file": f}),
        lambda f: server.post("/api/recordings", files={"file": f}, headers=TOKEN),
    ):
        response = call((f"{kind}.mp3", data))
        assert 400 <= response.status_code < 500, (kind, response.status_code)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and detail.startswith(f"{kind}.mp3")
        assert list(server.tmp.iterdir()) == []
    assert server.get("/api/health").json()["recordings"] == 6


def test_a_server_not_on_loopback_takes_no_change_without_a_token(indexed, piece_dir, tmp_path):
    import shutil

    shutil.copytree(indexed, tmp_path / "catalog")
    with TestClient(create_app(ServeSettings(tmp_path / "catalog", host="0.0.0.0"))) as client:
        response = client.post("/api/recordings", files={"file": upload(piece_dir / "work3" / "original.mp3")})
        assert response.status_code == 403 and "HOMAGE_TOKEN" in response.json()["detail"]
    with TestClient(create_app(ServeSettings(tmp_path / "catalog"))) as client:  # loopback, no token: allowed
        assert (
            client.post("/api/recordings", files={"file": upload(piece_dir / "work3" / "original.mp3")}).status_code
            == 201
        )


def test_health_answers_while_a_comparison_runs(indexed, piece_dir, tmp_path):
    import socket

    import httpx
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(ServeSettings(indexed)), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/api/health", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        timings = {}

        def compare():
            started = time.monotonic()
            files = {
                "a": upload(piece_dir / "work1" / "original.wav", "long-a.wav"),
                "b": upload(piece_dir / "work2" / "transposed.flac", "long-b.flac"),
            }
            timings["compare"] = (
                httpx.post(f"{url}/api/compare", files=files, timeout=60).status_code,
                time.monotonic() - started,
            )

        worker = threading.Thread(target=compare)
        worker.start()
        time.sleep(0.05)
        started = time.monotonic()
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200
        health_s = time.monotonic() - started
        worker.join(60)
        status, compare_s = timings["compare"]
        assert status == 200 and health_s < compare_s
    finally:
        server.should_exit = True
        thread.join(10)


def wait_for(server, job, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = server.get(job["status"]).json()
        if status["state"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def test_grouping_job_with_progress_and_the_group_list(server):
    assert server.post("/api/jobs/groups").status_code == 401  # a change: the token is needed
    job = server.post("/api/jobs/groups", headers=TOKEN).json()
    status = wait_for(server, job)
    assert status["state"] == "done" and status["done"] == status["total"] == 6
    assert status["result"]["groups"] == 3
    listed = server.get("/api/groups").json()
    assert listed["grouped"] == 6 and [g["size"] for g in listed["groups"]] == [3, 2]
    assert {r["path"].split("/")[-2] for r in listed["groups"][0]["recordings"]} == {"work1"}


def test_scan_job_over_uploads(server, piece_dir):
    from conftest import synth_piece, write

    borrowed = write(server.tmp.parent / "borrowed.wav", synth_piece(2, transpose=2))
    files = [("files", ("borrowed.wav", borrowed.read_bytes())), ("files", ("junk.mp3", b"no audio here " * 50))]
    job = server.post("/api/jobs/scan", files=files).json()
    status = wait_for(server, job)
    assert status["state"] == "done" and status["total"] == 2
    result = status["result"]
    assert any(f["path"] == "borrowed.wav" and "/work2/" in f["recording"]["path"] for f in result["flagged"])
    assert [f["path"] for f in result["failed"]] == ["junk.mp3"]
    assert list(server.tmp.iterdir()) == []  # the uploads lived as long as the job


def test_two_server_processes_share_comparisons_and_jobs(indexed, piece_dir, tmp_path):
    """`serve --workers 2`: a follow-up request may reach the other process; it must find what the first did."""
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(indexed, catalog)
    settings = ServeSettings(catalog, token="s3cret", max_upload_mb=5, tmp=tmp_path)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        compared = first.post(
            "/api/compare",
            files={"a": upload(piece_dir / "work1" / "original.wav"), "b": upload(piece_dir / "work1" / "faster.ogg")},
        ).json()
        png = second.get(compared["alignment_image"])
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        job = first.post("/api/jobs/groups", headers=TOKEN).json()
        status = wait_for(second, job)
        assert status["state"] == "done" and status["done"] == status["total"] == 6 and status["result"]["groups"] == 3
        assert second.get("/api/comparisons/0123/alignment.png").status_code == 404
        assert second.get("/api/jobs/0123").status_code == 404


def test_a_job_whose_process_died_reads_failed_and_its_uploads_go(indexed, tmp_path):
    import shutil
    import sqlite3
    import time

    from homage.api.recent import FILE_NAME

    catalog = tmp_path / "catalog"
    shutil.copytree(indexed, catalog)
    dead = 999_999_999  # above any process id Linux gives
    orphan = tmp_path / f"homage-upload-{dead}-abc"
    orphan.mkdir()
    (orphan / "half-received.mp3").write_bytes(b"\xff" * 100)
    settings = ServeSettings(catalog, max_upload_mb=5, tmp=tmp_path)
    with TestClient(create_app(settings)) as client:
        assert not orphan.exists()  # left by a killed process: removed when a server starts
        with sqlite3.connect(catalog / FILE_NAME) as db:
            db.execute(
                "INSERT INTO jobs (key, kind, pid, updated, state) VALUES ('k1', 'scan', ?, ?, 'running')",
                (dead, time.time()),
            )
        status = client.get("/api/jobs/k1").json()
        assert status["state"] == "failed" and f"pid {dead}" in status["error"]
