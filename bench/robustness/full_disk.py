"""A catalog on a full disk, measured: `homage index` onto a small tmpfs until it runs out of space, then the
catalog checked, then the disk grown and the same command run again.

    sudo .venv/bin/python -m bench.robustness.full_disk [--files 24] [--margin-kb 64] [--markdown]

Needs root (it mounts a tmpfs). The first half of the files is indexed on a roomy disk, which is then shrunk
to what that catalog uses plus a little, so the second half runs out of space part-way. Each step is one row:
its exit status, the last line it printed on stderr, whether it printed a traceback, what the catalog holds
(SQLite's integrity check, recordings), and whether it opens and answers a search. Bounded: one index run a
step, each with a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rich.table import Table

from bench.common import arguments, run_homage, show
from bench.robustness.crash_index import catalog_state, make_library, opens_and_answers


class CannotMount(RuntimeError):
    """This process may not mount a tmpfs (not root, or in a container without the capability)."""


def mount_tmpfs(where: Path, size_kb: int, *, remount: bool = False) -> None:
    options = f"{'remount,' if remount else ''}size={size_kb}k"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode:
        raise CannotMount(done.stderr.strip() or f"mount exited with {done.returncode}")


def _wal_in_use(catalog: Path) -> bool:
    wal = catalog / "catalog.sqlite-wal"
    return wal.exists() and wal.stat().st_size > 0


def used_kb(where: Path) -> int:
    stat = os.statvfs(where)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize // 1024


def exercise(work: Path, files: int = 24, margin_kb: int = 64, timeout: float = 300) -> list[dict]:
    """Index half of ``files`` pieces, shrink the disk to what it uses plus ``margin_kb``, index the rest (runs
    out), grow it, index again."""
    first, second = work / "first", work / "second"
    make_library(first, files // 2, seed=11)
    make_library(second, files - files // 2, seed=12)
    disk = work / "disk"
    disk.mkdir(parents=True, exist_ok=True)
    catalog = disk / "catalog"
    env = {**os.environ, "HOMAGE_CACHE": str(work / "cache")}
    mount_tmpfs(disk, 64 * 1024)
    rows = []
    try:

        def step(name: str, folder: Path) -> None:
            done = run_homage(
                ["index", str(folder), "--catalog", str(catalog), "-j", "1", "--no-lyrics"], env=env, timeout=timeout
            )
            state = catalog_state(catalog, as_it_is=not _wal_in_use(catalog))
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            rows.append(
                {
                    "step": name,
                    "exit": done.returncode,
                    "last line": lines[-1] if lines else "",
                    "traceback": "Traceback" in done.stderr,
                    "integrity": state["integrity"],
                    "recordings": len(state["paths"]),
                    "answers": opens_and_answers(catalog),
                    "free kB": (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize) // 1024,
                }
            )

        step("index the first half (64 MB disk)", first)
        mount_tmpfs(disk, used_kb(disk) + margin_kb, remount=True)
        step(f"index the second half (disk shrunk to the catalog + {margin_kb} kB)", second)
        step("the same again, the disk still full", second)
        mount_tmpfs(disk, 64 * 1024, remount=True)
        step("the same again, the disk grown to 64 MB", second)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
    return rows


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--margin-kb", type=int, default=64, help="room left on the disk for the second half")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="homage-full-disk-"))
    try:
        rows = exercise(work, args.files, args.margin_kb)
    except CannotMount as exc:
        raise SystemExit(f"cannot mount a tmpfs here ({exc}); run as root") from None
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    table = Table(
        title=f"`homage index` onto a tmpfs that fills up ({args.files} pieces of 8 s and 4 bad files, one worker)"
    )
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("step", "last line", "integrity") else "right")
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    show(table, args.markdown)


if __name__ == "__main__":
    main()
