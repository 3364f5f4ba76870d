"""Atomic file and directory writes, and bounded reads of regular files. Not here: any file format.

A file is written to a temporary sibling, flushed to disk, then renamed over the target: a
reader sees the old version or the new one, never half. A directory is built as a temporary
sibling and swapped in with one ``renameat2(RENAME_EXCHANGE)`` (Linux), so the path always names
a complete directory, old or new; the old one is then deleted. A second writer does the same
swap and simply wins; nothing named ``.NAME.old-*`` is left behind. An existing directory is
only replaced if it holds nothing but files we own, so a user's folder is never deleted.

Reading: :func:`read_regular` opens without blocking and without following a final symlink when
asked, refuses anything but a regular file (a device such as ``/dev/zero``, a FIFO, a socket,
a directory) and anything larger than the caller's limit, before reading a byte.
:func:`read_folder` reads several files of one directory *version* through one directory
handle, retrying when a writer swapped the directory meanwhile.
"""

import ctypes
import errno
import os
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import GlassnetError

FOLDER_READ_ATTEMPTS = 50       # a reader retries this often while writers keep swapping the folder


def _umask():
    """The process umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    clean_stale(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
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


def _short_name(path):
    """The file name, cut to 100 bytes: a temporary's name must fit the 255 bytes a name may have."""
    return os.fsencode(Path(path).name)[:100].decode("utf-8", errors="ignore")


def _temp_prefix(path):
    return f".{_short_name(path)}.{os.getpid()}."


def clean_stale(path):
    """Delete the temporaries ``.NAME.PID.*.tmp`` beside ``path`` left by writers that were killed (PID gone)."""
    prefix = f".{_short_name(path)}."
    try:
        entries = [e for e in os.scandir(Path(path).parent) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


# -- directories ------------------------------------------------------------------------------
def _exchange_function():
    """libc's ``renameat2`` (Linux, glibc 2.28+), or None."""
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


_RENAMEAT2 = _exchange_function()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a, b):
    """Swap the directories ``a`` and ``b`` in one atomic step; False where the system cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot replace {b} ({os.strerror(code)})")


def check_owned(path, owned_files):
    """Refuse to replace ``path`` unless it is a directory holding only ``owned_files`` (and our temporaries)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise GlassnetError(f"{path} exists and is a file, not a model directory; choose another path")
    foreign = sorted(p.name for p in path.iterdir() if p.name not in owned_files and not _ours(p.name, owned_files))
    if foreign:
        raise GlassnetError(f"{path} exists and holds files glassnet did not write ({', '.join(foreign[:3])}); "
                            f"choose an empty or new directory")


def _ours(name, owned_files):
    """A temporary file of ours (``.model.json.x1y2.tmp``), left by a writer that was killed."""
    return name.startswith(".") and name.endswith(".tmp") and any(name.startswith(f".{o}.") for o in owned_files)


@contextmanager
def atomic_directory(path, owned_files):
    """Yield a temporary directory; on success it replaces ``path`` in one atomic swap.

    ``owned_files``: the only names an existing ``path`` may contain for it to be replaced.
    """
    path = Path(path)
    check_owned(path, owned_files)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())          # mkdtemp makes 0700; give it the usual permissions
        yield tmp
        for child in tmp.iterdir():              # flush the new files before they become visible
            with open(child, "rb") as f:
                os.fsync(f.fileno())
        _publish(tmp, path, owned_files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)    # after a swap it holds the old version


def _publish(tmp, path, owned_files):
    """Make ``tmp`` the directory at ``path``: rename if there is none, else swap (a second writer wins)."""
    for _ in range(FOLDER_READ_ATTEMPTS):
        if not path.exists():
            try:
                os.rename(tmp, path)
                return
            except OSError as exc:            # another writer created it first: swap with theirs
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
                    raise
        check_owned(path, owned_files)
        try:
            if exchange(tmp, path):
                return
        except FileNotFoundError:              # it vanished between the check and the swap: try again
            continue
        old = path.with_name(f"{_temp_prefix(path)}old{time.monotonic_ns()}.tmp")
        try:                                   # a system without renameat2: two renames
            os.rename(path, old)
        except FileNotFoundError:
            continue
        try:
            os.rename(tmp, path)
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise GlassnetError(f"{path}: other processes keep replacing it; saving gave up after "
                        f"{FOLDER_READ_ATTEMPTS} attempts")


# -- bounded reads ----------------------------------------------------------------------------
def read_regular(path, limit, error, *, dir_fd=None, follow=True, name=None):
    """The bytes of the regular file ``path`` if it holds at most ``limit`` bytes, else ``error(message)``.

    Opened without blocking (a FIFO cannot hang us) and, unless ``follow``, without following a
    symlink. ``dir_fd``: read ``path`` relative to that open directory. ``name``: what messages call it.
    A missing file raises ``FileNotFoundError`` (callers word it; a folder reader retries on it).
    """
    name = name or str(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{name}: is a symbolic link; expected a regular file") from None
        raise error(f"{name}: cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb", buffering=0) as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name}: expected a regular file, received {file_kind(info.st_mode)}")
        if info.st_size > limit:
            raise error(f"{name}: {info.st_size:,} bytes, more than the limit of {limit:,} bytes for this file")
        chunks, got = [], 0
        while got <= info.st_size:       # a file growing while we read: read no more than its size + 1
            chunk = f.read(min(1 << 24, info.st_size + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > info.st_size:
            raise error(f"{name}: the file grew while it was read; try again")
        return b"".join(chunks)


def file_kind(mode):
    """``a directory``, ``a FIFO (named pipe)``, ``a character device`` ... for messages."""
    for test, text in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return text
    return "a special file"


def check_regular(path, error, *, root=None, limit=None):
    """Refuse ``path`` unless it is a regular file (after links), inside ``root`` if given, of at most ``limit``
    bytes. For readers that open the file themselves (NumPy, Pillow)."""
    path = Path(path)
    if root is not None and path.is_symlink():
        target, base = path.resolve(), Path(root).resolve()
        if target != base and base not in target.parents:
            raise error(f"{path}: a symbolic link to {target}, outside {root}; expected a file inside the folder")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: expected a regular file, received {file_kind(info.st_mode)}")
    if limit is not None and info.st_size > limit:
        raise error(f"{path}: {info.st_size:,} bytes, more than the limit of {limit:,} bytes for this file")
    return info.st_size


def read_folder(path, names, limits, error):
    """``{name: bytes}`` of the files ``names`` of one version of the directory ``path``.

    All are read through one handle on the directory, so a writer swapping in a new version
    meanwhile cannot mix versions; when a file vanishes because the directory was swapped, the
    read starts again (up to :data:`FOLDER_READ_ATTEMPTS` times). Symlinks are refused.
    ``limits``: name -> byte limit. A missing file is ``FileNotFoundError`` with its path.
    """
    path = Path(path)
    for attempt in range(FOLDER_READ_ATTEMPTS):
        dir_fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            return {name: read_regular(name, limits[name], error, dir_fd=dir_fd, follow=False,
                                       name=str(path / name)) for name in names}
        except FileNotFoundError as exc:
            if not _swapped(path, dir_fd) or attempt == FOLDER_READ_ATTEMPTS - 1:
                raise FileNotFoundError(exc.errno, "file not found", str(path / exc.filename)) from None
        finally:
            os.close(dir_fd)
    raise AssertionError("unreachable")


def _swapped(path, dir_fd):
    """Whether ``path`` now names another directory than the open ``dir_fd``."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return True
    then = os.fstat(dir_fd)
    return (now.st_ino, now.st_dev) != (then.st_ino, then.st_dev)
