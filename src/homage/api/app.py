"""`homage serve`: the REST API and the web page, over the same pipeline functions as the CLI.

The model, the calibration and the catalog (with its FAISS index) are loaded once per process. Uploads are
streamed to a temporary folder under a size cap, checked by decoding (never by their extension), and
removed when the request ends; a bad one gets a 4xx with a one-line reason. CPU work runs in worker
threads, so ``/api/health`` answers while a comparison runs. Writes (adding and removing recordings) need
the token of ``HOMAGE_TOKEN`` — and without one they are allowed only to a server on the loopback
interface. Audio is served by recording id only: no path from a client reaches the file system.
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from homage import audio, pipeline
from homage.api.recent import Recent, alive, recent_file
from homage.catalog import Catalog
from homage.errors import AudioError, CatalogError, HomageError
from homage.features.cache import FeatureCache
from homage.pipeline.analysis import warm_up

STATIC = Path(__file__).with_name("static")
CHUNK = 1 << 20
TEMPORARY_PREFIX = "homage-upload-"  # then the process id: what a killed process left is removed at the next start


@dataclass(frozen=True)
class ServeSettings:
    catalog: Path
    host: str = "127.0.0.1"
    token: str | None = None  # HOMAGE_TOKEN
    max_upload_mb: float = 100.0
    uploads: Path | None = None  # where added recordings are kept (default: CATALOG/uploads)
    cache: Path | None = None  # feature cache (default: the user's)
    tmp: Path | None = None  # where uploads wait while a request runs (default: the system's)

    @classmethod
    def from_env(cls) -> ServeSettings:
        """The settings `homage serve` hands to each server process through the environment."""
        env = os.environ
        return cls(
            Path(env["HOMAGE_SERVE_CATALOG"]),
            env.get("HOMAGE_SERVE_HOST", "127.0.0.1"),
            env.get("HOMAGE_TOKEN") or None,
            float(env.get("HOMAGE_SERVE_MAX_UPLOAD_MB", "100")),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "HOMAGE_SERVE_CATALOG": str(self.catalog),
            "HOMAGE_SERVE_HOST": self.host,
            "HOMAGE_SERVE_MAX_UPLOAD_MB": str(self.max_upload_mb),
        }

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


class _State:
    """What a server process loads once: the open catalog, its embedder, the cache; and where it shares recent
    comparisons and jobs with the other processes serving this catalog."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.catalog = Catalog(settings.catalog, create=True)
        self.embedder = pipeline.embedder_for(self.catalog)
        self.cache = FeatureCache(settings.cache) if settings.cache else FeatureCache.default()
        self.uploads = audio.absolute(settings.uploads or settings.catalog / "uploads")
        self.recent = Recent(recent_file(settings.catalog, writable=not self.catalog.read_only))
        _remove_orphaned_uploads(settings.tmp)
        warm_up(self.embedder)  # the first request should not wait for compiled code to load


def create_app(settings: ServeSettings) -> FastAPI:
    """The FastAPI application for ``settings`` (the catalog is created empty when missing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.homage = _State(settings)
        yield
        app.state.homage.catalog.close()

    app = FastAPI(title="homage", summary="Which recordings are versions of one another", lifespan=lifespan)

    @app.exception_handler(HomageError)
    async def homage_error(request: Request, exc: HomageError):
        """One line, as the CLI prints it: 422 for a file that is no usable audio, 400 for a bad parameter,
        409 for what the catalog cannot do now (read-only, another writer)."""
        status = 422 if isinstance(exc, AudioError) else 409 if isinstance(exc, CatalogError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def state(request: Request) -> _State:
        return request.app.state.homage

    def writer(request: Request) -> None:
        """Writes need the token; without a token configured, only a loopback server takes them."""
        given = request.headers.get("x-homage-token") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if settings.token:
            if given != settings.token:
                raise HTTPException(401, "this change needs the server's token (HOMAGE_TOKEN)")
        elif not settings.loopback:
            raise HTTPException(403, "this server takes no changes: start it with HOMAGE_TOKEN set to allow them")

    @app.get("/api/health")
    async def health(request: Request) -> dict:
        s = state(request)
        return {
            "status": "ok",
            "catalog": str(settings.catalog),
            "recordings": len(s.catalog),
            "embedder": s.embedder.identity,
            "read_only": s.catalog.read_only,
        }

    @app.post("/api/compare")
    async def compare(
        request: Request, a: UploadFile = File(...), b: UploadFile | None = File(None), b_id: int | None = Form(None)
    ) -> dict:
        """Two uploads (``a``, ``b``), or an upload and a catalogued recording (``a``, ``b_id``)."""
        s = state(request)
        if (b is None) == (b_id is None):
            raise HTTPException(400, "give a second recording: an upload 'b' or a catalogued 'b_id'")
        with _uploads(settings) as folder:
            path_a = await _receive(a, folder, settings)
            if b is not None:
                path_b, label_b = await _receive(b, folder, settings), _name(b)
            else:
                recording = _recording(s, b_id)
                path_b, label_b = Path(recording.path), recording.label
            result = await run_in_threadpool(
                _named,
                lambda: pipeline.compare(path_a, path_b, embedder=s.embedder, cache=s.cache),
                {str(path_a): _name(a), str(path_b): label_b},
            )
        key = await run_in_threadpool(s.recent.keep_comparison, result)
        return {**result.to_json(), "id": key, "alignment_image": f"/api/comparisons/{key}/alignment.png", "b_id": b_id}

    @app.get("/api/comparisons/{key}/alignment.png")
    async def alignment_image(request: Request, key: str) -> Response:
        comparison = await run_in_threadpool(state(request).recent.comparison, key)
        if comparison is None:
            raise HTTPException(404, "no such comparison (only the most recent are kept)")
        from homage.reports import plot_alignment

        png = await run_in_threadpool(lambda: plot_alignment(comparison, io.BytesIO()).getvalue())
        return Response(png, media_type="image/png")

    @app.post("/api/query")
    async def query(
        request: Request, file: UploadFile = File(...), k: int = Form(10), rerank: int | None = Form(None)
    ) -> dict:
        s = state(request)
        if not 1 <= k <= 1000 or (rerank is not None and not 0 <= rerank <= 1000):
            raise HTTPException(400, "k must be 1–1000 and rerank 0–1000")
        depth = {} if rerank is None else {"rerank_depth": rerank}
        with _uploads(settings) as folder:
            path = await _receive(file, folder, settings)
            result = await run_in_threadpool(
                _named, lambda: pipeline.query(path, s.catalog, k=k, cache=s.cache, **depth), {str(path): _name(file)}
            )
        return {**result.to_json(), "query": _name(file)}

    @app.get("/api/recordings")
    async def recordings(request: Request, offset: int = 0, limit: int = 50, q: str | None = None) -> dict:
        if offset < 0 or not 1 <= limit <= 500:
            raise HTTPException(400, "offset must be ≥ 0 and limit 1–500")
        return pipeline.list_recordings(state(request).catalog, offset=offset, limit=limit, text=q or None)

    @app.post("/api/recordings", dependencies=[Depends(writer)], status_code=201)
    async def add(request: Request, file: UploadFile = File(...)) -> dict:
        """Keep an upload with the catalog's other uploads and index it."""
        s = state(request)
        with _uploads(settings) as folder:
            path = await _receive(file, folder, settings)
            await run_in_threadpool(
                _named, lambda: pipeline.analyze_file(path, s.embedder, s.cache), {str(path): _name(file)}
            )
            kept = _keep_upload(path, s.uploads, _name(file))
        report = await run_in_threadpool(pipeline.index_dir, kept, s.catalog, cache=s.cache, workers=1, lock_wait=30)
        if report.failed:  # decoded a moment ago: a failure now is the catalog's, not the file's
            kept.unlink(missing_ok=True)
            raise HTTPException(422, f"{_name(file)}: {report.failed[0].reason}")
        warnings = [w.replace(str(kept), _name(file)) for w in report.warnings]
        return s.catalog.get(audio.absolute(kept)).to_json() | {"warnings": warnings}

    @app.delete("/api/recordings/{recording_id}", dependencies=[Depends(writer)])
    async def delete(request: Request, recording_id: int) -> dict:
        s = state(request)
        recording = _recording(s, recording_id)
        removed = await run_in_threadpool(pipeline.remove, [recording.path], s.catalog)
        if Path(recording.path).parent == s.uploads:  # an upload the server kept: its file goes too
            Path(recording.path).unlink(missing_ok=True)
        return {"removed": removed, "id": recording_id}

    @app.get("/api/recordings/{recording_id}/audio")
    async def recording_audio(request: Request, recording_id: int) -> FileResponse:
        """The recording's file (HTTP range requests supported, so a player can seek)."""
        recording = _recording(state(request), recording_id)
        if not Path(recording.path).is_file():
            raise HTTPException(404, f"the file of recording {recording_id} is no longer there")
        return FileResponse(recording.path, media_type=_media_type(recording.path), filename=Path(recording.path).name)

    @app.get("/api/groups")
    async def group_list(request: Request, singletons: bool = False) -> dict:
        """The catalog's version groups (``homage groups``), largest first."""
        rows = await run_in_threadpool(pipeline.group_table, state(request).catalog)
        found: dict[int, list[dict]] = {}
        for row in rows:
            found.setdefault(row["group"], []).append(row)
        listed = [{"group": g, "size": len(m), "recordings": m} for g, m in found.items() if singletons or len(m) > 1]
        return {"grouped": len(rows), "groups": sorted(listed, key=lambda g: (-g["size"], g["group"]))}

    @app.post("/api/jobs/groups", dependencies=[Depends(writer)], status_code=202)
    async def start_grouping(request: Request, threshold: str = Form("version"), regroup: bool = Form(False)) -> dict:
        s = state(request)
        return _started(
            s,
            "groups",
            lambda job: pipeline.groups(
                s.catalog, threshold=threshold, regroup=regroup, on_start=job.start, on_item=job.item
            ),
        )

    @app.post("/api/jobs/scan", status_code=202)
    async def start_scan(request: Request, files: list[UploadFile] = File(...), threshold: str = Form("maybe")) -> dict:
        """Scan uploads against the catalog as ``homage scan`` scans a folder; the uploads live as long as the job."""
        s = state(request)
        folder = _temporary_folder(settings)
        try:
            names = {}
            for upload in files:
                path = await _receive(upload, folder, settings)
                names[str(path)] = _name(upload)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

        def work(job):
            try:
                report = pipeline.scan(
                    folder,
                    s.catalog.root,
                    threshold=threshold,
                    workers=1,
                    cache=s.cache,
                    state=folder / "scan.jsonl",
                    on_start=job.start,
                    on_item=job.item,
                )
                data = report.to_json()
                for flag in data["flagged"]:
                    flag["path"] = names.get(flag["path"], Path(flag["path"]).name)
                for failure in data["failed"]:
                    failure["path"] = names.get(failure["path"], Path(failure["path"]).name)
                return {k: v for k, v in data.items() if k not in ("root", "state")}
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return _started(s, "scan", work)

    @app.get("/api/jobs/{key}")
    async def job_status(request: Request, key: str) -> dict:
        job = await run_in_threadpool(state(request).recent.job, key)
        if job is None:
            raise HTTPException(404, "no such job (only recent jobs are kept)")
        return job

    app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app


def _started(state: _State, kind: str, work) -> dict:
    key = state.recent.start_job(kind, work)
    return {"job": key, "status": f"/api/jobs/{key}"}


def app_from_env() -> FastAPI:
    """Factory for uvicorn's worker processes (settings from the environment, see ServeSettings.from_env)."""
    return create_app(ServeSettings.from_env())


# ---- uploads ------------------------------------------------------------------------------------------
def _temporary_folder(settings: ServeSettings) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-", dir=settings.tmp))


def _remove_orphaned_uploads(tmp: Path | None) -> None:
    """Remove the upload folders of server processes that were killed while a request ran."""
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{TEMPORARY_PREFIX}*-*"):
        pid = folder.name.removeprefix(TEMPORARY_PREFIX).split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _uploads(settings: ServeSettings) -> Iterator[Path]:
    """A private temporary folder for one request's uploads, always removed."""
    folder = _temporary_folder(settings)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _receive(upload: UploadFile, folder: Path, settings: ServeSettings) -> Path:
    """Stream an upload to ``folder`` under the size cap; the name keeps only a known audio extension."""
    limit = int(settings.max_upload_mb * (1 << 20))
    suffix = Path(_name(upload)).suffix.lower()
    path = folder / f"{uuid.uuid4().hex}{suffix if audio.is_audio_path('x' + suffix) else ''}"
    size = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"{_name(upload)}: larger than the {settings.max_upload_mb:g} MB upload limit")
            out.write(chunk)
    return path


def _name(upload: UploadFile) -> str:
    """The client's file name, reduced to its last component (for messages and labels only)."""
    return Path((upload.filename or "upload").replace("\\", "/")).name or "upload"


def _named(work, names: dict[str, str]):
    """Run ``work``; say the uploads' own names, not the temporary ones, in its errors and its result."""
    try:
        result = work()
    except AudioError as exc:
        raise AudioError(names.get(exc.path, Path(exc.path).name), exc.reason) from None
    if isinstance(result, pipeline.Comparison):
        return dataclasses.replace(result, a=names.get(result.a, result.a), b=names.get(result.b, result.b))
    return result


def _keep_upload(path: Path, uploads: Path, name: str) -> Path:
    """Move an accepted upload into the catalog's uploads folder under a unique, readable name."""
    uploads.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in Path(name).stem)[:80] or "upload"
    target = uploads / f"{stem}-{uuid.uuid4().hex[:8]}{path.suffix}"
    shutil.move(path, target)
    return target


def _recording(state: _State, recording_id: int):
    found = state.catalog.by_ids([recording_id]).get(recording_id)
    if found is None:
        raise HTTPException(404, f"no recording {recording_id} in this catalog")
    return found


def _media_type(path: str) -> str:
    import mimetypes

    return mimetypes.guess_type(path)[0] or "application/octet-stream"
