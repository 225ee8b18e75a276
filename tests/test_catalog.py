import os
from pathlib import Path

import numpy as np
import pytest

from homage.catalog import Catalog, NewRecording
from homage.errors import CatalogError

EMB = "toy@1#0000"


def unit(rng, n, dim=8):
    X = rng.normal(size=(n, dim)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def records(X, prefix="/music/song"):
    return [
        NewRecording(f"{prefix}{i}.mp3", f"hash{i}", x, duration=60.0 + i, title=f"Song {i}") for i, x in enumerate(X)
    ]


def hits(cat, xq, k, exclude=()):
    """``cat.search`` read back as (path, similarity) lists, one per query, padding dropped."""
    S, I = cat.search(xq, k, exclude=[cat.get(p).id for p in exclude])
    found = cat.by_ids(I.ravel())
    return [[(found[i].path, float(s)) for s, i in zip(row_s, row_i) if i >= 0] for row_s, row_i in zip(S, I)]


@pytest.fixture
def vectors():
    return unit(np.random.default_rng(0), 20)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_add_then_search_finds_each_vector_first(tmp_path, vectors, kind):
    with Catalog(tmp_path / "cat", create=True, index_kind=kind) as cat:
        assert cat.add(records(vectors), embedder=EMB) == (20, 0)
        results = hits(cat, vectors[:5], k=3)
    for i, found in enumerate(results):
        assert found[0][0] == f"/music/song{i}.mp3"
        assert found[0][1] == pytest.approx(1.0, abs=1e-5)
        assert len(found) == 3
        assert found[0][1] >= found[1][1] >= found[2][1]


def test_catalog_persists_and_reopens(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 20 and cat.embedder == EMB and cat.dim == 8
        assert cat.get("/music/song3.mp3").title == "Song 3"
        assert hits(cat, vectors[3], k=1)[0][0][0] == "/music/song3.mp3"
        assert cat.info()["hours_of_audio"] == pytest.approx(sum(60 + i for i in range(20)) / 3600, abs=1e-3)
    assert len(list((tmp_path / "cat").glob("vectors.*.faiss"))) == 1


def test_opening_a_missing_catalog_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="no catalog here"):
        Catalog(tmp_path / "nothing")


def test_a_catalog_is_created_whole_or_not_at_all(tmp_path, monkeypatch):
    from homage.catalog import schema

    monkeypatch.setattr(schema, "SCHEMA", schema.SCHEMA + "CREATE TABLE broken (;")  # creation fails half-way
    with pytest.raises(CatalogError, match="cannot create the catalog"):
        Catalog(tmp_path / "cat", create=True)
    assert list((tmp_path / "cat").iterdir()) == []  # no half-made catalog, no partial file
    monkeypatch.undo()
    with Catalog(tmp_path / "cat", create=True) as cat:
        assert len(cat) == 0
    assert sorted(p.name for p in (tmp_path / "cat").iterdir() if "partial" in p.name) == []


def test_replacing_a_path_keeps_one_entry(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:3]), embedder=EMB)
        new = NewRecording("/music/song0.mp3", "changed", vectors[10])
        assert cat.add([new], embedder=EMB) == (0, 1)
        assert len(cat) == 3
        assert cat.get("/music/song0.mp3").content_hash == "changed"
        assert hits(cat, vectors[10], k=1)[0][0][0] == "/music/song0.mp3"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_remove(tmp_path, vectors, kind):
    with Catalog(tmp_path / "cat", create=True, index_kind=kind) as cat:
        cat.add(records(vectors), embedder=EMB)
        cat.search(vectors[0], k=1)  # index in memory, then updated in place
        assert cat.remove(["/music/song0.mp3", "/music/unknown.mp3"]) == 1
        assert len(cat) == 19 and cat.get("/music/song0.mp3") is None
        assert all(path != "/music/song0.mp3" for path, _ in hits(cat, vectors[0], k=19)[0])
    with Catalog(tmp_path / "cat") as cat:
        assert len(hits(cat, vectors[0], k=50)[0]) == 19


def test_search_can_exclude_the_query_file(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
        found = hits(cat, vectors[4], k=3, exclude=["/music/song4.mp3"])[0]
    assert len(found) == 3 and "/music/song4.mp3" not in [path for path, _ in found]


def test_recordings_under_a_folder(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:2], "/a/x") + records(vectors[2:4], "/ab/y"), embedder=EMB)
        assert [r.path for r in cat.recordings(under="/a")] == ["/a/x0.mp3", "/a/x1.mp3"]


def test_refuses_vectors_of_another_embedder_or_size(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:2]), embedder=EMB)
        with pytest.raises(CatalogError, match="holds vectors of embedder toy@1#0000, not other@1"):
            cat.add(records(vectors[2:4], "/x"), embedder="other@1#1111")
        wide = unit(np.random.default_rng(1), 2, dim=16)
        with pytest.raises(CatalogError, match="8 dimensions, not 16"):
            cat.add(records(wide, "/y"), embedder=EMB)
        assert len(cat) == 2


def test_a_failing_batch_writes_nothing(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:2]), embedder=EMB)
        generation = cat.generation
        batch = records(vectors[2:6], "/new/")
        batch[-1] = NewRecording("/new/bad.mp3", "h", np.zeros(3, dtype=np.float32))  # wrong shape, last in batch
        with pytest.raises(CatalogError):
            cat.add(batch, embedder=EMB)
        duplicate = records(vectors[2:4], "/dup/")
        duplicate[1] = NewRecording(duplicate[0].path, "h2", vectors[3])  # second insert of one path
        cat.add(duplicate, embedder=EMB)  # replaced within the batch: still consistent
        assert len(cat) == 3 and cat.generation == generation + 1


def test_a_full_disk_is_one_clear_error_and_loses_nothing(tmp_path, vectors, monkeypatch):
    """SQLite's page limit fills the database as a full disk would; then the index file meets ENOSPC."""
    import errno

    from homage.catalog import vectors as vector_state

    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:5]), embedder=EMB)
        generation = cat.generation
        pages = cat._db.execute("PRAGMA page_count").fetchone()[0]
        cat._db.execute(f"PRAGMA max_page_count = {pages}")
        big = [NewRecording(r.path, r.content_hash, r.vector, title="x" * 5000) for r in records(vectors[5:], "/new/")]
        with pytest.raises(CatalogError, match="no space left on the disk holding the catalog") as raised:
            cat.add(big, embedder=EMB)
        assert "\n" not in str(raised.value) and str(tmp_path / "cat") in str(raised.value)
        assert len(cat) == 5 and cat.generation == generation and not cat._db.in_transaction
        cat._db.execute("PRAGMA max_page_count = 1073741823")
        cat.add(records(vectors[5:8], "/new/"), embedder=EMB)  # space freed: the same catalog writes again

        def no_space(path, write):
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as patched:
            patched.setattr(vector_state, "atomic_write", no_space)
            with pytest.raises(CatalogError, match="no space left"):
                cat.optimize()
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 8
        assert hits(cat, vectors[6], k=1)[0][0][0] == "/new/1.mp3"


def test_crash_before_the_index_is_saved_rebuilds_it(tmp_path, vectors):
    """Committed rows survive a process that dies before writing the FAISS file."""
    cat = Catalog(tmp_path / "cat", create=True)
    cat.add(records(vectors[:10]), embedder=EMB)
    cat.flush()
    cat.add(records(vectors[10:], "/later/"), embedder=EMB)
    cat._db.close()  # simulated crash: no flush, no close
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 20
        assert hits(cat, vectors[15], k=1)[0][0][0] == "/later/5.mp3"


def test_damaged_index_file_is_rebuilt(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
    (index_file,) = (tmp_path / "cat").glob("vectors.*.faiss")
    index_file.write_bytes(b"not an index")
    with Catalog(tmp_path / "cat") as cat:
        assert hits(cat, vectors[7], k=1)[0][0][0] == "/music/song7.mp3"


def test_not_a_catalog_database(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.sqlite").write_text("hello, I am not SQLite" * 100)
    with pytest.raises(CatalogError, match="not a readable catalog"):
        Catalog(tmp_path / "cat")


def test_empty_catalog_search_returns_nothing(tmp_path):
    with Catalog(tmp_path / "cat", create=True) as cat:
        assert hits(cat, np.ones(8, dtype=np.float32), k=3) == [[]]


def test_alignment_sequences_are_stored_and_set_aside_when_their_kind_changes(tmp_path, vectors):
    rng = np.random.default_rng(1)
    entries = [
        NewRecording(f"/m/{i}.mp3", f"h{i}", v, sequence=rng.random((30 + i, 12)).astype(np.float16))
        for i, v in enumerate(vectors[:3])
    ]
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(entries, embedder=EMB, sequence_kind="crp@2.5")
        ids = [cat.get(e.path).id for e in entries]
        stored = cat.sequences(ids, "crp@2.5")
        assert all(np.array_equal(stored[i], e.sequence) for i, e in zip(ids, entries))
        assert cat.sequences(ids, "crp@5") == {}  # computed otherwise: not used
        cat.add(
            [NewRecording("/m/new.mp3", "h9", vectors[5], sequence=np.zeros((4, 12), np.float16))],
            embedder=EMB,
            sequence_kind="crp@5",
        )
        assert set(cat.sequences(ids + [cat.get("/m/new.mp3").id], "crp@5")) == {cat.get("/m/new.mp3").id}


def test_a_format_1_catalog_is_migrated(tmp_path, vectors):
    import sqlite3

    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:4]), embedder=EMB)
    db = sqlite3.connect(tmp_path / "cat" / "catalog.sqlite")
    db.execute("ALTER TABLE recordings DROP COLUMN sequence")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    db.commit()
    db.close()
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 4 and cat.info()["recordings"] == 4
        assert hits(cat, vectors[2], k=1)[0][0][0] == "/music/song2.mp3"
        assert cat.sequences([cat.get("/music/song2.mp3").id], "any") == {}


def test_odd_catalog_paths_are_clear_errors(tmp_path, vectors):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(CatalogError, match="is a file, not a catalog folder"):
        Catalog(tmp_path / "file", create=True)
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "catalog.sqlite").touch()
    with pytest.raises(CatalogError, match="empty file"):
        Catalog(tmp_path / "zero")


def test_a_second_writer_is_refused_with_who_holds_the_lock(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as first, first.writer():
        with Catalog(tmp_path / "cat") as second:
            with pytest.raises(CatalogError, match=r"another homage process \(pid \d+\) is writing"):
                with second.writer(wait=0.3):
                    pass
            assert hits(second, vectors[0], k=1) == [[]]  # readers are not blocked
    with Catalog(tmp_path / "cat") as again, again.writer():  # released when the first is done
        again.add(records(vectors[:2]), embedder=EMB)


def _as_nobody(code: str):
    """Run Python code as the unprivileged user 65534 with this interpreter."""
    import subprocess
    import sys

    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, cwd="/")


def test_a_catalog_without_write_permission_is_read(vectors):
    """As another user (not root, which may write anything): query works, writes say read-only."""
    import shutil
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to read as an unprivileged user")
    if _as_nobody("import numpy, homage.catalog").returncode != 0:
        pytest.skip("this Python environment is not readable by an unprivileged user")
    tmp_path = Path(tempfile.mkdtemp(prefix="homage-ro-"))  # pytest's own folder is closed to other users
    root = tmp_path / "cat"
    try:
        with Catalog(root, create=True) as cat:
            cat.add(records(vectors[:5]), embedder=EMB)
        np.save(tmp_path / "q.npy", vectors[3])
        os.chmod(tmp_path, 0o755)
        for path in [root, *root.iterdir(), tmp_path / "q.npy"]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        out = _as_nobody(
            "import numpy as np; from homage.catalog import Catalog; from homage.errors import CatalogError\n"
            f"c = Catalog({str(root)!r}); assert c.read_only and len(c) == 5\n"
            f"S, I = c.search(np.load({str(tmp_path / 'q.npy')!r}), 1); print(c.by_ids(I[0])[int(I[0][0])].path)\n"
            "try:\n    c.remove(['/music/song0.mp3'])\nexcept CatalogError as e:\n    print(e)\n"
        )
    finally:
        for path in [root, *root.iterdir()]:
            os.chmod(path, 0o755)
        shutil.rmtree(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["/music/song3.mp3", f"{root}: read-only catalog (no permission to write it)"]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_every_index_kind_searches_adds_and_removes_without_a_rebuild(tmp_path, kind):
    X = unit(np.random.default_rng(5), 3000, dim=128)
    with Catalog(tmp_path / "cat", create=True, index_kind=kind) as cat:
        cat.add(records(X[:2500]), embedder=EMB)
        cat.optimize()
        assert cat.index_stats()["index_built"] == kind and cat.index_stats()["index_main"] == 2500
        assert hits(cat, X[7], k=1)[0][0][0] == "/music/song7.mp3"
        main_file = cat.index_stats()["index_file_bytes"]
        cat.add(records(X[2500:], "/later/"), embedder=EMB)  # into the delta: the main file is not rewritten
        assert cat.index_stats()["index_delta"] == 500 and cat.index_stats()["index_file_bytes"] == main_file
        assert hits(cat, X[2600], k=1)[0][0][0] == "/later/100.mp3"
        assert cat.remove(["/music/song7.mp3", "/later/100.mp3"]) == 2
        assert hits(cat, X[7], k=1)[0][0][0] != "/music/song7.mp3"
        assert hits(cat, X[2600], k=1)[0][0][0] != "/later/100.mp3"
    with Catalog(tmp_path / "cat") as cat:  # reopened: main + delta + removals agree with SQLite
        stats = cat.index_stats()
        assert stats["index_main"] + stats["index_delta"] == len(cat) == 2998
        assert hits(cat, X[2999], k=1)[0][0][0] == "/later/499.mp3"
        cat.optimize()
        assert cat.index_stats()["index_delta"] == 0 and cat.index_stats()["index_removed"] == 0
        found = hits(cat, X[:200], k=10)
        assert sum(row[0][0] == f"/music/song{i}.mp3" for i, row in enumerate(found) if i != 7) >= 190


def test_auto_index_kind_follows_the_catalog_size(tmp_path, monkeypatch):
    from homage.catalog import index as vector_index

    monkeypatch.setattr(vector_index, "AUTO_IVFPQ_AT", 2500)
    X = unit(np.random.default_rng(6), 3000, dim=64)
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(X[:2000]), embedder=EMB)
        cat.optimize()
        assert cat.index_stats()["index_built"] == "flat"
        cat.add(records(X[2000:], "/more/"), embedder=EMB)
        cat.optimize()
        assert cat.index_stats()["index_built"] == "ivfpq"
        assert hits(cat, X[2500], k=1)[0][0][0] == "/more/500.mp3"


def test_cohorts_are_computed_once_kept_per_recording_and_refreshed_as_the_catalog_grows(tmp_path):
    """Each recording gets the summary of its own re-ranked candidates; a second run has nothing to do, a
    larger catalog measures every recording again against its larger neighbourhood, and a removed
    recording's cohort goes with it."""
    from homage.pipeline.analysis import SEQUENCE_KIND
    from homage.pipeline.indexing import refresh_cohorts

    rng = np.random.default_rng(4)
    X = unit(rng, 16)
    songs = [
        NewRecording(f"/music/{n}.wav", f"h{n}", X[n], sequence=rng.random((60, 24)).astype(np.float16))
        for n in range(16)
    ]
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(songs[:12], embedder="test@1", sequence_kind=SEQUENCE_KIND)
        stages = []
        assert refresh_cohorts(cat, on_stage=lambda name, n: stages.append((name, n))) == 12
        assert stages == [("cohorts", 12)] and cat.without_cohort(11) == []
        ids = [r.id for r in cat.recordings()]
        stored = cat.cohorts(ids)
        assert sorted(stored) == sorted(ids) and all(size == 11 and len(v) == 6 for size, v in stored.values())
        assert all(np.all(v[3:] > 0) for _, v in stored.values())  # a spread for each kind of evidence
        assert refresh_cohorts(cat) == 0
        cat.add(songs[12:], embedder="test@1", sequence_kind=SEQUENCE_KIND)
        assert refresh_cohorts(cat) == 16
        assert {size for size, _ in cat.cohorts(ids).values()} == {15}
        cat.remove(["/music/0.wav"])
        assert ids[0] not in cat.cohorts(ids) and len(cat.cohorts(ids)) == 11
        cat.add([songs[1]], embedder="test@1", sequence_kind="another way")  # sequences set aside: cohorts too
        assert cat.cohorts(ids) == {}
