"""File plumbing shared by the manifest and the hub: hashing and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["sha256_file", "atomic_write", "atomic_write_text", "atomic_copy", "umask"]

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it over ``path``.

    Readers see the old file or the new one, never a half-written one; on error the target is
    untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; a symlink is written through, not replaced."""
    target = Path(os.path.realpath(path))
    atomic_write(target, lambda f: f.write(text.encode("utf-8")))


def atomic_copy(source: str | Path, destination: str | Path) -> None:
    """Copy ``source`` to ``destination`` atomically."""

    def write(f: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, f)

    atomic_write(Path(destination), write)


def check_output(path: str | Path, *, overwrite: bool, inputs: Sequence[str | Path] = (),
                 flag: str = "--overwrite") -> Path:  # fmt: skip
    """Check, before any work, that ``path`` can be written without losing anything.

    Creates the parent folder if needed.

    Raises:
        ValueError: ``path`` is one of ``inputs``, a folder, an existing file without
            ``overwrite`` (the message names ``flag``), or its folder cannot be created or written.
    """
    path = Path(path)
    for source in inputs:
        if path.exists() and Path(source).exists() and os.path.samefile(path, source):
            raise ValueError(f"the output {str(path)!r} is the input file; choose another output name")
    if path.is_dir():
        raise ValueError(f"the output {str(path)!r} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise ValueError(f"{str(path)!r} already exists; pass {flag} to replace it, or choose another output name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder of the output {str(path)!r}: {exc.strerror or exc}") from None
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"cannot write the output {str(path)!r}: its folder is not writable")
    return path


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block.

    An advisory ``flock``, released by the operating system when the process ends however it
    ends, so no stale lock survives a crash; the file keeps the holder's pid for the message.
    Where ``fcntl`` is missing (Windows) nothing is locked.

    Raises:
        FileExistsError: another process holds it (the message names ``what`` and the pid).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip()
            raise FileExistsError(f"{what} is in use by another process{f' (pid {holder})' if holder else ''}; "
                                  "wait for it to finish, or choose another --out") from None  # fmt: skip
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
