"""The files of a run: its output, the lock that keeps a second run off it, and the parts
directory ``OUT.nc.parts/`` of finished blocks and points.

Every refusal here is a :class:`RunError` with exit status 2 and one line that names the path:
nothing is written, moved or deleted before the checks pass, and a file that is not a simframe
result is never overwritten or deleted, ``--fresh`` or not.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simframe.errors import RunError

try:
    import fcntl
except ImportError:  # not POSIX: runs on the same output are not kept apart
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
REFUSED = 2
"""Exit status of a run refused before it started (its output, its parts, its code)."""
NETCDF_SIGNATURES = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05")
"""The first bytes of netCDF-4 (HDF5) and classic netCDF files."""


def parts_directory(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def corrupt_directory(output: Path) -> Path:
    """Where damaged part files are kept for inspection: ``OUT.nc.corrupt/``."""
    return output.with_name(output.name + ".corrupt")


def part_path(parts: Path, point: int) -> Path:
    return parts / f"point-{point:06d}.nc"


def block_path(parts: Path, point: int, block: int) -> Path:
    """Where the job whose first block is ``block`` keeps its blocks."""
    return parts / f"block-{point:06d}-{block:06d}.nc"


def block_files(parts: Path) -> dict[int, list[Path]]:
    """The files of finished blocks in ``parts`` by point (each holds a job's consecutive
    blocks), listed once per run."""
    files: dict[int, list[Path]] = {}
    for path in sorted(parts.glob("block-*-*.nc")):
        files.setdefault(int(path.stem.split("-")[1]), []).append(path)
    return files


def first_block(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


def cannot_write(path: Path, exc: BaseException) -> RunError:
    """One line on why ``path`` cannot be written (a full disk says so)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror.lower()
    else:
        reason = str(exc) or type(exc).__name__
    return RunError(f"cannot write {path}: {reason}", exit_status=REFUSED)


def free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


class OutputLock:
    """An exclusive lock on the output for the whole run (``.OUT.nc.lock`` beside it).

    POSIX record locks (``lockf``) belong to this process alone (worker processes do not
    inherit them) and end with it, however it ends: a lock file left by a killed run is
    simply taken over. The file holds the process id that the refusal names.
    """

    def __init__(self, output: Path):
        self.output = output
        self.path = output.with_name(f".{output.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            while self._fd is None:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                if not self._acquire(fd):
                    holder = os.read(fd, 32).decode(errors="replace").strip()
                    os.close(fd)
                    raise RunError(
                        f"{self.output} is being written by process {holder or '(unknown)'}; "
                        "wait for that run to end, or write to another output with -o",
                        exit_status=REFUSED,
                    )
                if os.path.exists(self.path) and os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    self._fd = fd
                else:  # the previous holder removed the file meanwhile: lock the new one
                    os.close(fd)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            raise cannot_write(self.output, exc) from None
        return self

    @staticmethod
    def _acquire(fd: int) -> bool:
        if fcntl is None:
            return True
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still locked: nobody holds the next file yet
            os.close(self._fd)
            self._fd = None


def is_simframe_result(path: Path) -> bool:
    """Whether ``path`` is a netCDF file that ``simframe run`` wrote."""
    with path.open("rb") as file:
        if not file.read(8).startswith(NETCDF_SIGNATURES):
            return False
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4") as dataset:
            return "scenario_fingerprint" in dataset.attrs
    except (OSError, ValueError, RuntimeError):
        return False


def check_output(output: Path, parts: Path) -> None:
    """Refuse an output that a run must not write: a directory, a file that is not a
    simframe result, or a parts path that holds something else than a run's parts."""
    if output.is_dir():
        raise RunError(f"{output} is a directory; give a file name with -o", exit_status=REFUSED)
    try:
        if output.exists() and not is_simframe_result(output):
            raise RunError(
                f"{output} exists and is not a simframe result; it is left as it is: "
                "write to another output with -o",
                exit_status=REFUSED,
            )
    except OSError as exc:
        raise RunError(f"cannot read {output}: {exc.strerror}", exit_status=REFUSED) from None
    if parts.exists() and not parts.is_dir():
        raise RunError(
            f"{parts} is in the way: it should be the directory of this run's finished parts; "
            "move it away, or write to another output with -o",
            exit_status=REFUSED,
        )
    if parts.is_dir() and not (parts / MANIFEST).exists() and any(parts.iterdir()):
        raise RunError(
            f"{parts} is not the finished parts of a simframe run (it has no {MANIFEST}); "
            "it is left as it is: move it away, or write to another output with -o",
            exit_status=REFUSED,
        )


def read_manifest(parts: Path) -> dict[str, Any] | None:
    """The manifest of an existing parts directory, or None if there is none."""
    manifest = parts / MANIFEST
    if not manifest.exists():
        return None
    try:
        recorded = json.loads(manifest.read_text())
        if not isinstance(recorded, dict):
            raise ValueError(f"expected a JSON object, got {type(recorded).__name__}")
    except (OSError, ValueError) as exc:
        raise RunError(
            f"{manifest} is damaged ({exc}); the finished parts cannot be matched to a "
            "scenario: run with --fresh to discard them",
            exit_status=REFUSED,
        ) from None
    return recorded


def write_manifest(parts: Path, manifest: dict[str, Any]) -> None:
    """Create ``parts`` with its manifest, written aside and renamed into place."""
    try:
        parts.mkdir(parents=True, exist_ok=True)
        temporary = parts / f".{MANIFEST}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(temporary, parts / MANIFEST)
    except OSError as exc:
        raise cannot_write(parts / MANIFEST, exc) from None


def discard_parts(parts: Path) -> None:
    """Delete a parts directory that :func:`check_output` accepted (``--fresh``, or once the
    result is written). It is renamed first, so that an interruption never leaves a parts
    directory without its manifest, which a rerun would refuse to touch."""
    if parts.is_dir():
        os.replace(parts, parts.with_name(f".{parts.name}.{os.getpid()}.discarded"))
    for doomed in parts.parent.glob(f".{glob.escape(parts.name)}.*.discarded"):
        shutil.rmtree(doomed, ignore_errors=True)


def set_aside(path: Path, output: Path) -> Path:
    """Move a damaged part file into ``OUT.nc.corrupt/`` (never over another); return where."""
    keep = corrupt_directory(output)
    keep.mkdir(exist_ok=True)
    target = keep / path.name
    number = 1
    while target.exists():
        target = keep / f"{path.stem}-{number}{path.suffix}"
        number += 1
    os.replace(path, target)
    return target


@contextlib.contextmanager
def reported_write_errors(path: Path, needed_bytes: int) -> Iterator[None]:
    """Check that ``needed_bytes`` fit beside ``path``, then turn a failure to write it into
    one line. The check comes first because HDF5 reports a full disk as an "HDF error" or
    even "Permission denied", and keeps the failed file open until the process ends."""
    free = free_bytes(path.parent)
    if free is not None and free < needed_bytes + WRITE_MARGIN_BYTES:
        raise _full(path, free, needed_bytes)
    try:
        yield
    except (OSError, RuntimeError) as exc:
        free = free_bytes(path.parent)
        if free is not None and free < needed_bytes + WRITE_MARGIN_BYTES:
            raise _full(path, free, needed_bytes) from None
        raise cannot_write(path, exc) from None


WRITE_MARGIN_BYTES = 1 << 20
"""Room a netCDF file needs beyond its data (headers, chunk indices), with a margin."""


def _full(path: Path, free: int, needed: int) -> RunError:
    return RunError(
        f"cannot write {path}: no space left on the device ({free / 2**20:,.1f} MiB free, "
        f"about {(needed + WRITE_MARGIN_BYTES) / 2**20:,.1f} MiB needed)",
        exit_status=REFUSED,
    )
