"""A size-limited filesystem of the test's own, to fill: a tmpfs with `size=`, mounted as root.

`mount -t tmpfs -o size=48m` gives a filesystem that answers ENOSPC like a full disk, without
touching the machine's real disks; `resize` (a remount with another `size=`) frees or takes
space without deleting anything. The context manager always unmounts, also when the test
fails, and kills nothing: a process with files open there must be stopped by the test first
(then the unmount is lazy, `-l`, so a leftover process cannot leave a mount behind).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

MIB = 1024 * 1024


def why_not_mountable() -> str | None:
    """None when this process may mount a tmpfs; otherwise why not (the skip reason)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a size-limited filesystem needs root (mount -t tmpfs); CI runs as root"
    return None


@contextlib.contextmanager
def small_disk(where: Path, size_mib: int) -> Iterator[Path]:
    """A tmpfs of `size_mib` MiB mounted at `where` (created) for the duration of the block."""
    reason = why_not_mountable()
    if reason:
        pytest.skip(reason)
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "ldv-test-disk", str(where)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        # Root without the right to mount (a container without CAP_SYS_ADMIN): say so.
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def resize(where: Path, size_mib: int) -> None:
    """Give the tmpfs at `where` another size (smaller than what it holds is refused by the kernel)."""
    subprocess.run(["mount", "-o", f"remount,size={size_mib}m", str(where)], check=True, capture_output=True)


def free_bytes(where: Path) -> int:
    st = os.statvfs(where)
    return st.f_bavail * st.f_frsize


def fill(where: Path, leave_bytes: int = 0, name: str = "ballast") -> Path:
    """Write a ballast file at `where` until at most `leave_bytes` are free (0: until ENOSPC)."""
    path = where / name
    chunk = b"\0" * MIB
    with path.open("ab", buffering=0) as out:
        while True:
            room = free_bytes(where) - leave_bytes
            if room <= 0:
                break
            try:
                out.write(chunk[: min(len(chunk), room)])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return path
