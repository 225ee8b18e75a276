"""What every command shares: its options, one error handler, progress, JSON output. Nothing heavy is
imported here, so ``homage --help`` stays instant."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

OPTIONAL = {"data": {"pretty_midi", "music21", "fluidsynth", "pedalboard"}, "train": {"torch"}}  # extra: modules

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Catalog folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
CacheOpt = Annotated[
    Optional[Path], typer.Option("--cache", help="Feature cache folder [default: $HOMAGE_CACHE or ~/.cache/homage].")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Compute features without reading or writing the cache.")]
MaxDurOpt = Annotated[float, typer.Option("--max-duration", help="Refuse files longer than this many minutes.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", help="Parallel worker processes [default: 2, or fewer cores].")]
EmbedderOpt = Annotated[Optional[str], typer.Option("--embedder", help="Embedder name or checkpoint [default: csi].")]


def command(fn: Callable) -> Callable:
    """A command body under the shared error handler: a homage error (a bad file, parameter, configuration
    or catalog) is one line on stderr and exit status 1; Ctrl-C says what was kept (exit 130)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        from homage.errors import HomageError

        try:
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


def fail(message: str, code: int = 1):
    """Print one clear error line and leave with ``code``."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def feature_cache(cache: Path | None, no_cache: bool):
    from homage.features.cache import FeatureCache

    return FeatureCache(None) if no_cache else (FeatureCache(cache) if cache else FeatureCache.default())


def minutes(value: float) -> float:
    """``--max-duration`` minutes → seconds, refused when not positive."""
    from homage.errors import ParameterError

    if value <= 0:
        raise ParameterError(f"--max-duration must be a positive number of minutes, not {value:g}")
    return value * 60


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class FileProgress:
    """A progress bar over files that prints each failure as one line naming the file and the reason."""

    def __init__(self, stage: str, *, disable: bool = False):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.description}"), console=errors, transient=True, disable=disable,
        )  # fmt: skip
        self.task = self.progress.add_task("", total=None, stage=stage)

    def __enter__(self) -> FileProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def stage(self, stage: str, total: int) -> None:
        self.progress.reset(self.task, total=total, stage=stage)

    def advance(self, description: str) -> None:
        self.progress.update(self.task, advance=1, description=description)

    def item(self, path: str, error: str | None) -> None:
        self.advance(Path(path).name[-40:])
        if error:
            self.progress.console.print(f"[red]✗[/] {path}: {error}", highlight=False, soft_wrap=True)

    def warn(self, line: str) -> None:
        """A problem worked around (the file was used): one line."""
        self.progress.console.print(f"[yellow]![/] {line}", highlight=False, soft_wrap=True)

    def print(self, line: str) -> None:
        self.progress.console.print(line, highlight=False)
