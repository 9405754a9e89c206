"""Atomic file writes, checkpoint files and the lock of a run directory.

Nothing is ever half-written: every output goes to a temporary file in the same directory (a name unique to the
writing process, see :func:`temp_files`), is flushed to disk, and then renamed over the target (``os.replace`` is
atomic on POSIX), so a reader sees the old file or the new one, never a mixture. A write that fails (a full disk,
no permission) removes its temporary file, leaves the target as it was, and raises :class:`OutputError` naming the
file; only a process killed outright (SIGKILL) leaves its temporary file behind. For a run directory's training
outputs the next ``ebipla train`` there deletes them (:func:`remove_stale_temp_files`, under the run's lock); other
leftovers (``.<name>.<unique>.tmp``) are harmless and can be deleted by hand.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import CheckpointError, OutputError

if TYPE_CHECKING:  # torch is imported where a checkpoint is read or written, so that writing text starts fast
    import torch

FORMAT_VERSION = 1
TEMP_SUFFIX = ".tmp"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

log = logging.getLogger("ebipla.checkpoint")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, fsync it, then rename it to ``path``.

    An ``OSError`` on the way (also one raised inside ``write``) becomes an :class:`OutputError` that names
    ``path``; ``path`` itself is then untouched and the temporary file is gone.
    """
    path = Path(path)
    try:
        _write_and_replace(path, write)
    except OSError as exc:
        raise OutputError(write_failure_message(path, exc)) from exc
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise OutputError(f"{path} was written, but syncing its directory to disk failed ({exc.strerror}); the "
                          "new file may not survive a crash of the machine.") from exc


def _write_and_replace(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_failure_message(path: Path, exc: OSError) -> str:
    """One paragraph: which file could not be written, why, that nothing was overwritten, and the fix."""
    reason = exc.strerror or str(exc)
    if exc.errno in DISK_FULL:
        return (f"cannot write {path}: the disk is full ({reason}). Nothing was overwritten: the previous "
                f"{path.name}, if any, is unchanged and no partial file is left. Free space on the file system of "
                f"{path.parent} (see `df -h {path.parent}`) or write the outputs elsewhere, then run the same "
                "command again (training resumes from its last checkpoint).")
    return (f"cannot write {path} ({reason}). Nothing was overwritten: the previous {path.name}, if any, is "
            f"unchanged. Check that {path.parent} is a writable directory, then run the same command again.")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def temp_files(path: str | Path) -> list[Path]:
    """The temporary files of unfinished writes of ``path`` (``.<name>.<unique>.tmp`` beside it)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f"{glob.escape(_temp_prefix(path))}*{TEMP_SUFFIX}"))


def remove_stale_temp_files(paths: list[Path]) -> None:
    """Delete the temporary files that killed writers of ``paths`` left behind.

    Only safe while no other process writes these paths: call it under :func:`exclusive_lock`.
    """
    for path in paths:
        for tmp in temp_files(path):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                log.info("removed %s, left by a write that was killed", tmp)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on the file ``path`` (created; removed again on exit if it was locked).

    A second process asking for the same lock gets a :class:`CheckpointError` that names ``what`` it protects.
    The kernel drops the lock when its process dies, so a killed run never blocks the next one. Where the file
    system cannot lock (some network file systems), a warning is logged and the block runs unlocked.
    """
    path = Path(path)
    fd = _acquire(path, what)
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # before unlocking: a process waiting on this inode sees it is gone and retries
            os.close(fd)


def _acquire(path: Path, what: str) -> int | None:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointError(
                f"another process is writing to {what} (it holds {path}). Two runs must never share a run "
                "directory: wait for the other one to finish, or give this one another --out."
            ) from None
        except OSError as exc:
            os.close(fd)
            log.warning("cannot lock %s (%s); going on without a lock", path, exc.strerror)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: lock the new one


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    def write(f: IO[bytes]) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        f.write(buf.getvalue())

    atomic_write(path, write)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    import torch

    atomic_write(path, lambda f: torch.save({"format_version": FORMAT_VERSION, **payload}, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; a damaged file raises :class:`CheckpointError`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist. Train the run first (ebipla train).")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for damaged files
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())}). The file is "
            "truncated or corrupt (a copy that did not finish, or a file edited by hand; ebipla's own writes are "
            "atomic): restore it from a backup (dvc checkout) or delete it to retrain the run from the start."
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} is not an ebipla checkpoint of format {FORMAT_VERSION}. "
            "Retrain the run, or use the ebipla version that wrote it."
        )
    return payload
