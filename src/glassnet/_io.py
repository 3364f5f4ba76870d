"""Atomic file and directory writes: a reader sees the old version or the new one, never half.

A file is written to a temporary sibling, flushed to disk, then renamed over the target.
A directory is built as a temporary sibling and swapped in; an existing directory is only
replaced if it holds nothing but files we own, so a user's folder is never deleted.
"""

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import GlassnetError


def _umask():
    """The process umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:    # name the file the user asked for, not our temporary one
        raise OSError(exc.errno, f"cannot write {path} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes 0600; give it the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_directory(path, owned_files):
    """Yield a temporary directory; on success it replaces ``path`` in one rename.

    ``owned_files``: the only names an existing ``path`` may contain for it to be replaced.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise GlassnetError(f"{path} exists and is a file, not a model directory; choose another path")
        foreign = sorted(p.name for p in path.iterdir() if p.name not in owned_files)
        if foreign:
            raise GlassnetError(f"{path} exists and holds files glassnet did not write ({', '.join(foreign[:3])}); "
                                f"choose an empty or new directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())          # mkdtemp makes 0700; give it the usual permissions
        yield tmp
        for child in tmp.iterdir():              # flush the new files before they become visible
            with open(child, "rb") as f:
                os.fsync(f.fileno())
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
