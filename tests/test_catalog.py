import numpy as np
import pytest

from homage.catalog import Catalog, NewRecording
from homage.errors import CatalogError

EMB = "toy@1#0000"


def unit(rng, n, dim=8):
    X = rng.normal(size=(n, dim)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def records(X, prefix="/music/song"):
    return [NewRecording(f"{prefix}{i}.mp3", f"hash{i}", x, duration=60.0 + i, title=f"Song {i}") for i, x in enumerate(X)]


@pytest.fixture
def vectors():
    return unit(np.random.default_rng(0), 20)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_add_then_search_finds_each_vector_first(tmp_path, vectors, kind):
    with Catalog(tmp_path / "cat", create=True, index_kind=kind) as cat:
        assert cat.add(records(vectors), embedder=EMB) == (20, 0)
        results = cat.search(vectors[:5], k=3)
    for i, hits in enumerate(results):
        assert hits[0].recording.path == f"/music/song{i}.mp3"
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert [h.rank for h in hits] == [1, 2, 3]
        assert hits[0].score >= hits[1].score >= hits[2].score


def test_catalog_persists_and_reopens(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 20 and cat.embedder == EMB and cat.dim == 8
        assert cat.get("/music/song3.mp3").title == "Song 3"
        assert cat.search(vectors[3], k=1)[0][0].recording.path == "/music/song3.mp3"
        assert cat.info()["hours_of_audio"] == pytest.approx(sum(60 + i for i in range(20)) / 3600, abs=1e-3)
    assert len(list((tmp_path / "cat").glob("vectors.*.faiss"))) == 1


def test_opening_a_missing_catalog_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="no catalog here"):
        Catalog(tmp_path / "nothing")


def test_replacing_a_path_keeps_one_entry(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors[:3]), embedder=EMB)
        new = NewRecording("/music/song0.mp3", "changed", vectors[10])
        assert cat.add([new], embedder=EMB) == (0, 1)
        assert len(cat) == 3
        assert cat.get("/music/song0.mp3").content_hash == "changed"
        assert cat.search(vectors[10], k=1)[0][0].recording.path == "/music/song0.mp3"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_remove(tmp_path, vectors, kind):
    with Catalog(tmp_path / "cat", create=True, index_kind=kind) as cat:
        cat.add(records(vectors), embedder=EMB)
        cat.search(vectors[0], k=1)  # index in memory, then updated in place
        assert cat.remove(["/music/song0.mp3", "/music/unknown.mp3"]) == 1
        assert len(cat) == 19 and cat.get("/music/song0.mp3") is None
        assert all(h.recording.path != "/music/song0.mp3" for h in cat.search(vectors[0], k=19)[0])
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat.search(vectors[0], k=50)[0]) == 19


def test_search_can_exclude_the_query_file(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
        hits = cat.search(vectors[4], k=3, exclude=["/music/song4.mp3"])[0]
    assert len(hits) == 3 and "/music/song4.mp3" not in [h.recording.path for h in hits]


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


def test_crash_before_the_index_is_saved_rebuilds_it(tmp_path, vectors):
    """Committed rows survive a process that dies before writing the FAISS file."""
    cat = Catalog(tmp_path / "cat", create=True)
    cat.add(records(vectors[:10]), embedder=EMB)
    cat.flush()
    cat.add(records(vectors[10:], "/later/"), embedder=EMB)
    cat._db.close()  # simulated crash: no flush, no close
    with Catalog(tmp_path / "cat") as cat:
        assert len(cat) == 20
        assert cat.search(vectors[15], k=1)[0][0].recording.path == "/later/5.mp3"


def test_damaged_index_file_is_rebuilt(tmp_path, vectors):
    with Catalog(tmp_path / "cat", create=True) as cat:
        cat.add(records(vectors), embedder=EMB)
    (index_file,) = (tmp_path / "cat").glob("vectors.*.faiss")
    index_file.write_bytes(b"not an index")
    with Catalog(tmp_path / "cat") as cat:
        assert cat.search(vectors[7], k=1)[0][0].recording.path == "/music/song7.mp3"


def test_not_a_catalog_database(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.sqlite").write_text("hello, I am not SQLite" * 100)
    with pytest.raises(CatalogError, match="not a readable catalog"):
        Catalog(tmp_path / "cat")


def test_empty_catalog_search_returns_nothing(tmp_path):
    with Catalog(tmp_path / "cat", create=True) as cat:
        assert cat.search(np.ones(8, dtype=np.float32), k=3) == [[]]
