"""Files: which ones are audio, finding them under a folder (symbolic links followed once), their
content hash, and the checks every reader makes first."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from homage.errors import AudioError, Failure

NOT_UTF8 = "the file name is not valid UTF-8 (rename the file)"  # a catalog stores names as text
AUDIO_EXTENSIONS = frozenset(".wav .wave .flac .ogg .oga .opus .mp3 .m4a .aac .mp4 .aif .aiff .wma .webm .mka".split())


def is_audio_path(path: str | Path) -> bool:
    """Whether ``path`` has the extension of a format homage reads."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def absolute(path: str | Path) -> Path:
    """``path`` made absolute and normalised (``..`` removed) but not resolved: links stay as the user named them."""
    return Path(os.path.abspath(path))


def find_audio(root: str | Path, *, on_skip: Callable[[Failure], None] | None = None) -> list[Path]:
    """Audio files under ``root`` (recursive; hidden entries skipped), sorted; ``root`` may be one file."""
    return walk_files(root, is_audio_path, on_skip=on_skip)


def walk_files(
    root: str | Path, accept: Callable[[str], bool], *, on_skip: Callable[[Failure], None] | None = None
) -> list[Path]:
    """Files under ``root`` that ``accept(name)`` takes, sorted, each real file once, under the path it was found at.

    Symbolic links to files and folders are followed (a link loop is skipped); a file reached twice (a
    link beside its target) is listed once, at the first path in sorted order. Paths are absolute but not
    resolved, so they read as the user laid them out. What cannot be read — a folder without permission,
    a broken link, a name that is not valid UTF-8 — is reported to ``on_skip`` and left out.
    """
    root = absolute(root)
    if root.is_file():
        try:
            str(root).encode("utf-8")
        except UnicodeEncodeError:
            (on_skip or (lambda failure: None))(Failure(ascii(str(root)), NOT_UTF8))
            return []
        return [root]
    if not root.is_dir():
        raise AudioError(root, "no such folder")
    report = on_skip or (lambda failure: None)
    seen_dirs: set[tuple[int, int]] = set()
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=lambda e: report(_unreadable(e))):
        here = os.stat(dirpath)
        if (here.st_dev, here.st_ino) in seen_dirs:  # reached again through a link: a loop or a duplicate
            dirnames[:] = []
            continue
        seen_dirs.add((here.st_dev, here.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not accept(name):
                continue
            path = Path(dirpath, name)
            try:
                str(path).encode("utf-8")
                st = path.stat()
            except UnicodeEncodeError:
                report(Failure(ascii(str(path)), NOT_UTF8))
                continue
            except OSError:
                try:
                    check_file(path)
                except AudioError as exc:
                    report(Failure(str(path), exc.reason))
                continue
            found.append((path, (st.st_dev, st.st_ino)))
    unique = {}
    for path, key in sorted(found):
        unique.setdefault(key, path)
    return sorted(unique.values())


def _unreadable(exc: OSError) -> Failure:
    return Failure(str(exc.filename), f"folder skipped: cannot read it ({exc.strerror})")


def file_hash(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b hash of the file's bytes (hex, 32 chars): identifies content whatever its path."""
    path = check_file(path)
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def check_file(path: str | Path) -> Path:
    """``path`` as a Path when it names a non-empty regular file; an AudioError saying what it is otherwise."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioError(path, f"broken link (it points to {os.readlink(path)}, which does not exist)") from None
        raise AudioError(path, "no such file") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a named pipe"
            if stat.S_ISFIFO(st.st_mode)
            else "a device or socket"
        )
        raise AudioError(path, f"not a regular file ({kind})")
    if st.st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "cannot read (permission denied)")
    return path
