"""Bad and odd input, measured: every kind of broken, lying or strange file (and name, link, pipe, permission)
beside good MP3s, through `homage index`, `query` and `compare`.

    .venv/bin/python -m bench.robustness.fuzz_inputs [--per-kind 11] [--seed 0] [--timeout 120] [--work DIR]

Prints, per kind: files tried, and over the three commands: refused with a clear reason (one line naming
the file, in homage's words), refused unclearly, accepted, indexed with a warning (truncated), tracebacks,
hangs, and good files lost (a good file missing from the catalog after the index).
Run as root it drops the capabilities that override permissions (setpriv), so permission-less files are
really unreadable.
Bounded: every command has a timeout, and nothing listens on any port.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.common import arguments, run_homage, show

SR = 16000
# The reasons homage gives, in words: a refusal matching none of these is not "clear".
CLEAR = re.compile(
    r"^(empty file \(0 bytes\)|no such file|broken link \(it points to .*\)|not a regular file \(.*\)|"
    r"cannot read \(.*\)|not a readable audio file: .*|no audio stream \(.*\)|silent \(level -?\d+ dBFS\)|"
    r"too short \(.* s; at least .* needed\)|too long \(.*\)|truncated: the header says .*|"
    r"the file name is not valid UTF-8 \(rename the file\)|folder skipped: cannot read it \(.*\)|"
    r"invalid offset/duration .*)$"
)


@dataclass(frozen=True)
class Case:
    path: Path
    kind: str
    good: bool = False  # a good file: must be indexed


def tone_piece(seed: int, seconds: float, sr: int = SR) -> np.ndarray:
    """A seeded melody over chords: music-like enough to be indexed and told apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    step = 0.25
    for k in range(int(seconds / step)):
        f = 220 * 2 ** (int(rng.integers(0, 24)) / 12)
        span = (t >= k * step) & (t < (k + 1) * step)
        y[span] += 0.3 * np.sin(2 * np.pi * f * t[span]) * np.exp(-4 * (t[span] - k * step))
    return (y / (np.abs(y).max() + 1e-9) * 0.8).astype(np.float32)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def make_inputs(root: Path, per_kind: int, seed: int) -> list[Case]:
    """Write the good files and ``per_kind`` files (or so) of each bad or odd kind under ``root``."""
    rng = random.Random(seed)
    cases: list[Case] = []
    good_dir, bad = root / "good", root / "odd"
    good_dir.mkdir(parents=True)
    wav = root / "source.wav"
    sf.write(wav, tone_piece(seed, 20.0), SR)
    mp3_bytes = []
    for i in range(5):
        path = good_dir / f"good{i}.mp3"
        sf.write(root / "g.wav", tone_piece(seed + 100 + i, 20.0), SR)
        ffmpeg("-i", str(root / "g.wav"), "-ac", "1", "-b:a", "32k", str(path))
        mp3_bytes.append(path.read_bytes())
        cases.append(Case(path, "good", good=True))

    def add(kind: str, name: str, data: bytes | None = None) -> Path:
        path = bad / kind / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(path, kind))
        return path

    wav_bytes = wav.read_bytes()
    for i in range(per_kind):
        add("empty", f"empty{i}{rng.choice(['.mp3', '.wav', '.flac', '.ogg', '.m4a'])}", b"")
        add(
            "text",
            f"text{i}{rng.choice(['.mp3', '.wav', '.flac'])}",
            (f"not audio {i} " * rng.randint(5, 500)).encode(),
        )
        add(
            "random bytes",
            f"noise{i}{rng.choice(['.mp3', '.wav', '.ogg', '.m4a', '.opus'])}",
            os.urandom(rng.randint(10, 200_000)),
        )
        cut = rng.uniform(0.1, 0.9)
        add("truncated wav", f"cut{i}.wav", wav_bytes[: int(len(wav_bytes) * cut)])
        add("truncated mp3", f"cut{i}.mp3", mp3_bytes[i % 5][: int(len(mp3_bytes[i % 5]) * cut)])
        flipped = bytearray(mp3_bytes[i % 5])
        for _ in range(rng.randint(1, 50)):
            at = rng.randrange(len(flipped))
            flipped[at] ^= 1 << rng.randrange(8)
        add("mp3 flipped bits", f"flip{i}.mp3", bytes(flipped))
        add("mp3 garbage prefix", f"prefix{i}.mp3", os.urandom(rng.randint(100, 20_000)) + mp3_bytes[i % 5])
        add("too short", f"short{i}.wav")
        sf.write(cases[-1].path, tone_piece(seed + i, rng.uniform(0.05, 0.9)), SR)
        add("silent", f"silent{i}.flac")
        sf.write(
            cases[-1].path, np.zeros(SR * 5) if i % 2 else 1e-5 * np.random.default_rng(i).standard_normal(SR * 5), SR
        )
        add("nan and inf samples", f"nan{i}.wav")
        y = tone_piece(seed + i, 5.0).astype(np.float64)
        y[:: rng.randint(2, 50)] = rng.choice([np.nan, np.inf, -np.inf])
        sf.write(cases[-1].path, y, SR, subtype="DOUBLE")
        add("lying header", f"lie{i}.wav", _lying_wav(wav_bytes, rng))
        add("channels", f"ch{i}.wav")
        channels = rng.choice([3, 6, 8, 32, 64])
        sf.write(cases[-1].path, np.tile(tone_piece(seed + i, 4.0)[:, None], (1, channels)) / channels, SR)
        add("odd rates", f"rate{i}.wav")
        rate = rng.choice([1, 8, 100, 4000, 192000, 384000])
        sf.write(cases[-1].path, tone_piece(seed + i, 2.0, sr=max(rate, 8000))[: max(rate * 3, 8)], rate)
        add("subtypes", f"sub{i}.wav")
        subtype = rng.choice(["PCM_U8", "PCM_24", "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM", "FLOAT"])
        sf.write(cases[-1].path, tone_piece(seed + i, 5.0), SR, subtype=subtype)
        add(
            "id3 only",
            f"tagonly{i}.mp3",
            b"ID3\x03\x00\x00\x00\x00\x00\x10" + b"\x00" * 16 + os.urandom(rng.randint(0, 64)),
        )
    containers = [
        ("mp4 with video", ".mp4", ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-shortest", "-c:v", "mpeg4"]),
        (
            "video without sound",
            ".mp4",
            ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=3", "-an", "-c:v", "mpeg4"],
        ),
        ("containers", ".mka", []),
        ("containers", ".webm", ["-c:a", "libopus"]),
        ("containers", ".aiff", []),
        ("containers", ".m4a", ["-c:a", "aac"]),
        ("containers", ".wma", ["-c:a", "wmav2"]),
        ("containers", ".opus", ["-c:a", "libopus"]),
        ("containers", ".aac", ["-c:a", "aac", "-f", "adts"]),
        ("containers", ".ogg", ["-c:a", "libvorbis"]),
    ]
    for n, (kind, ext, extra) in enumerate(containers * max(1, per_kind // 5)):
        path = add(kind, f"c{n}{ext}")
        inputs = ["-i", str(wav)] if kind != "video without sound" else []
        try:
            ffmpeg(*inputs, *extra, str(path))
        except subprocess.CalledProcessError:
            cases.pop()
    names = [
        "with space.mp3",
        "ünïcödé ♪.mp3",
        "new\nline.mp3",
        "-leading-dash.mp3",
        "quote'\"s.mp3",
        "x" * 240 + ".mp3",
        "tab\tname.mp3",
        "semi;colon&amp.mp3",
    ]
    for i, name in enumerate(names):
        add("odd names", name, mp3_bytes[i % 5])
    weird = bad / "odd names" / os.fsdecode(b"latin1-\xe9t\xe9.mp3")
    weird.write_bytes(mp3_bytes[0])
    cases.append(Case(weird, "odd names"))
    links = bad / "links"
    links.mkdir()
    os.symlink(links / "nowhere.mp3", links / "dangling.mp3")
    os.symlink(good_dir / "good0.mp3", links / "link-to-good.mp3")
    os.link(good_dir / "good1.mp3", links / "hard-link.mp3")
    (links / "loop").mkdir()
    os.symlink(links / "loop", links / "loop" / "again")
    os.symlink(good_dir, links / "linked-folder")
    cases += [Case(links / n, "links") for n in ("dangling.mp3", "link-to-good.mp3", "hard-link.mp3")]
    specials = bad / "special files"
    specials.mkdir()
    os.mkfifo(specials / "pipe.wav")
    (specials / "folder.mp3").mkdir()
    cases += [Case(specials / "pipe.wav", "special files"), Case(specials / "folder.mp3", "special files")]
    locked = bad / "permissions"
    locked.mkdir()
    (locked / "no-read.mp3").write_bytes(mp3_bytes[2])
    os.chmod(locked / "no-read.mp3", 0)
    (locked / "closed").mkdir()
    (locked / "closed" / "inside.mp3").write_bytes(mp3_bytes[3])
    cases += [Case(locked / "no-read.mp3", "permissions"), Case(locked / "closed" / "inside.mp3", "permissions")]
    os.chmod(locked / "closed", 0)
    for i in range(max(1, per_kind // 5)):
        add("too long", f"long{i}.wav")
        with sf.SoundFile(cases[-1].path, "w", samplerate=8000, channels=1, subtype="PCM_U8") as out:
            for _ in range(31):
                out.write(0.1 * np.sin(np.arange(8000 * 60) / 3).astype(np.float32))
    (wav).unlink()
    (root / "g.wav").unlink()
    return cases


def _lying_wav(data: bytes, rng: random.Random) -> bytes:
    """A WAV whose header says something false: a larger size, another rate, no rate, a huge byte rate."""
    data = bytearray(data)
    lie = rng.choice(["size", "rate", "zero rate", "byte rate", "data size"])
    if lie == "size":
        data[4:8] = (len(data) * rng.randint(2, 50)).to_bytes(4, "little")
    elif lie == "rate":
        data[24:28] = rng.choice([1, 3, 10**9]).to_bytes(4, "little")
    elif lie == "zero rate":
        data[24:28] = (0).to_bytes(4, "little")
    elif lie == "byte rate":
        data[28:32] = (2**31).to_bytes(4, "little")
    else:
        at = data.find(b"data")
        data[at + 4 : at + 8] = (2**31).to_bytes(4, "little")
    return bytes(data)


def judge(line_reason: str) -> bool:
    return bool(CLEAR.match(line_reason))


def exercise(root: Path, cases: list[Case], timeout: float) -> list[dict]:
    """Index everything, then query and compare each case: one outcome row per (case, command)."""
    env = {**os.environ, "HOMAGE_CACHE": str(root / "cache")}
    catalog = root / "catalog"
    rows = []
    try:
        out = run_homage(["index", str(root), "--catalog", str(catalog), "--json", "-j", "2"], env=env, timeout=timeout)
        report = json.loads(out.stdout) if out.returncode == 0 else {"failed": [], "added": 0}
        traceback = "Traceback" in out.stderr or out.returncode != 0
        hang = False
    except subprocess.TimeoutExpired:
        report, traceback, hang = {"failed": []}, False, True
    refused = {f["path"]: f["reason"] for f in report["failed"]}
    warned = " ".join(report.get("warnings", []))
    indexed = set(_catalog_paths(catalog))
    for case in cases:
        reason = refused.get(str(case.path))
        rows.append(
            {
                "kind": case.kind,
                "command": "index",
                "path": str(case.path),
                "traceback": traceback,
                "hang": hang,
                "refused": reason is not None,
                "clear": reason is None or judge(reason),
                "accepted": str(case.path) in indexed or _same_file_indexed(case.path, indexed),
                "warned": f"{case.path}: " in warned,
                "lost": case.good and str(case.path) not in indexed,
            }
        )
    good = next(c.path for c in cases if c.good)
    os.environ["HOMAGE_CACHE"] = env["HOMAGE_CACHE"]
    for case in cases:
        for command in (
            ["query", str(case.path), "--catalog", str(catalog), "--json"],
            ["compare", str(case.path), str(good), "--json"],
        ):
            rows.append(_through_the_cli(command, case, timeout))
    return rows


def _through_the_cli(command: list[str], case: Case, timeout: float) -> dict:
    """One command through the real Typer app in this process (what the shell runs, without its start-up):
    a traceback is an exception that escaped the command; a hang, one that ran past ``timeout``."""
    from typer.testing import CliRunner

    from homage.cli.app import app

    def alarm(signum, frame):
        raise TimeoutError(f"{command[0]} ran past {timeout:g} s")

    row = {"kind": case.kind, "command": command[0], "path": str(case.path), "lost": False, "warned": False}
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(timeout))
    try:
        result = CliRunner().invoke(app, command)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    hang = isinstance(result.exception, TimeoutError)
    traceback = result.exception is not None and not isinstance(result.exception, SystemExit) and not hang
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    refused = result.exit_code != 0 and not traceback and not hang
    prefix = f"error: {case.path}: "
    clear = not refused or (len(lines) == 1 and lines[0].startswith(prefix) and judge(lines[0][len(prefix) :]))
    return {
        **row,
        "traceback": traceback,
        "hang": hang,
        "refused": refused,
        "clear": clear,
        "accepted": result.exit_code == 0,
    }


def _catalog_paths(catalog: Path) -> list[str]:
    import sqlite3

    if not (catalog / "catalog.sqlite").exists():
        return []
    with sqlite3.connect(catalog / "catalog.sqlite") as db:
        return [row[0] for row in db.execute("SELECT path FROM recordings")]


def _same_file_indexed(path: Path, indexed: set[str]) -> bool:
    """A link or hard link counts as accepted when the real file it names was indexed (under one path)."""
    try:
        key = os.stat(path)
    except OSError:
        return False
    return any(
        os.path.exists(p) and os.stat(p).st_ino == key.st_ino and os.stat(p).st_dev == key.st_dev for p in indexed
    )


def summarise(rows: list[dict]) -> list[tuple]:
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    table = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        index_rows = [r for r in group if r["command"] == "index"]
        table.append(
            (
                kind,
                len(index_rows),
                sum(r["refused"] and r["clear"] for r in group),
                sum(r["refused"] and not r["clear"] for r in group),
                sum(r["accepted"] for r in group),
                sum(r["warned"] for r in group),
                sum(r["traceback"] for r in group),
                sum(r["hang"] for r in group),
                sum(r["lost"] for r in group),
            )
        )
    return table


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--per-kind", type=int, default=11)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--unprivileged", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() == 0 and not args.unprivileged and shutil.which("setpriv"):
        work = args.work or Path(tempfile.mkdtemp(prefix="homage-fuzz-"))
        work.mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o777)
        drop = "-dac_override,-dac_read_search"  # root without them obeys permission bits like anyone
        command = [
            "setpriv",
            f"--inh-caps={drop}",
            f"--bounding-set={drop}",
            sys.executable,
            "-m",
            "bench.robustness.fuzz_inputs",
            "--per-kind",
            str(args.per_kind),
            "--seed",
            str(args.seed),
            "--timeout",
            str(args.timeout),
            "--work",
            str(work),
            "--unprivileged",
        ]
        os.chdir(Path(__file__).resolve().parents[2])  # the module is found from the repository's root
        os.execvp(command[0], command)
    root = (args.work or Path(tempfile.mkdtemp(prefix="homage-fuzz-"))) / "run"
    shutil.rmtree(root, ignore_errors=True)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cases = make_inputs(root, args.per_kind, args.seed)
    print(
        f"{len(cases)} files of {len({c.kind for c in cases})} kinds under {root}; "
        "indexing, then query and compare each …",
        flush=True,
    )
    rows = exercise(root, cases, args.timeout)
    from rich.table import Table

    table = Table(title="homage on bad and odd input (index, query, compare)", title_justify="left")
    for col in (
        "kind",
        "files",
        "refused, clear reason",
        "refused, unclear",
        "accepted",
        "indexed with a warning",
        "tracebacks",
        "hangs",
        "good lost",
    ):
        table.add_column(col, justify="left" if col == "kind" else "right")
    totals = [0] * 8
    for kind, *counts in summarise(rows):
        table.add_row(kind, *map(str, counts))
        totals = [a + b for a, b in zip(totals, counts)]
    table.add_row("all", *map(str, totals), style="bold")
    show(table, args.markdown, width=140)
    unclear = [r for r in rows if r["refused"] and not r["clear"]]
    for row in unclear[:20]:
        print("unclear:", row["command"], row["path"])
    os.chmod(root / "odd" / "permissions" / "closed", 0o755)  # let the folder be removed


if __name__ == "__main__":
    main()
