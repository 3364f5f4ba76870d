"""Download files safely: mirrors in turn, resumable ``.part`` files, SHA-256 checks, a progress bar.

The recipe, for each file:

1. Try each mirror in order. Data arrives in ``NAME.part``; an interrupted transfer is resumed
   where it stopped (an HTTP ``Range`` request) or started again if the server will not resume.
   A dropped connection or a timeout is retried a few times, waiting a little longer each time.
2. When all bytes are in, hash ``NAME.part``. If the SHA-256 (or, where no SHA-256 is published,
   the MD5) is not the one written in the code, delete it, say so, and try the next mirror.
3. Only a verified file is renamed to ``NAME``. So the cache never holds a corrupt file under
   its real name, and a half-done ``.part`` is either resumed or replaced.

A mirror may not send more than the expected size plus a margin (:func:`size_cap`; without an
expected size, :data:`MAX_DOWNLOAD`): a server that announces more is refused before a byte is
written, one that streams more is cut off and its ``.part`` deleted, and so is the ``.part`` of a
transfer that fills the disk.

Only the standard library (``urllib``) is used; every network wait is bounded by ``timeout``.
The cache folder is ``$GLASSNET_DATA`` if set, else the per-user cache folder from
``platformdirs`` (``pip install "glassnet[data]"``), else ``~/.cache/glassnet``.
Not here: proxies beyond what urllib reads from the environment, parallel downloads, locking
against two processes downloading the same file at once.
"""

import errno
import hashlib
import os
import socket
import sys
import time
from pathlib import Path

from .._version import __version__
from .errors import ChecksumError, DownloadError

TIMEOUT = 30.0           # seconds to wait for a connection or for the next bytes
RETRIES = 3              # attempts per mirror when the connection drops or times out
CHUNK = 1 << 16
MAX_DOWNLOAD = 1024 ** 3 #: bytes one download may bring when no size is expected
USER_AGENT = f"glassnet/{__version__} (+https://github.com/glassnet/glassnet)"


def cache_dir() -> Path:
    """Where downloaded datasets are kept (created on first download, not here)."""
    if os.environ.get("GLASSNET_DATA"):
        return Path(os.environ["GLASSNET_DATA"]).expanduser()
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".cache" / "glassnet"
    return Path(platformdirs.user_cache_dir("glassnet", appauthor=False))


def size_cap(size):
    """The most bytes a download of a file of ``size`` bytes may bring: 1% and 64 KiB over (a mirror's
    repackaging), or :data:`MAX_DOWNLOAD` when the size is not known."""
    return MAX_DOWNLOAD if not size else size + size // 100 + 65536


class TooLarge(OSError):
    """A mirror sent, or announced, more than the size cap."""


def file_digest(path, algorithm="sha256"):
    """The hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path, *, sha256=None, md5=None):
    """``(ok, algorithm, actual)``: does the file's SHA-256 (or else MD5) equal the expected one?"""
    if sha256:
        actual = file_digest(path, "sha256")
        return actual == sha256.lower(), "SHA-256", actual
    if md5:
        actual = file_digest(path, "md5")
        return actual == md5.lower(), "MD5", actual
    raise ValueError("verify needs an expected sha256 or md5")


def download(urls, dest, *, sha256=None, md5=None, size=None, timeout=TIMEOUT, retries=RETRIES, progress=True,
             label=None, hint=None):
    """Download the first of ``urls`` that works to ``dest``, verified; returns ``dest``.

    Args:
        urls: the same file on each mirror, tried in order.
        dest: the final path; the transfer goes to ``dest`` + ``.part`` and is renamed when verified.
        sha256: the expected SHA-256 (hex); ``md5`` is used only where no SHA-256 is known.
        size: expected size in bytes, for the progress bar when the server does not say.
        timeout: seconds to wait to connect or for the next bytes (each wait, not the whole download).
        retries: attempts per mirror when the connection drops or times out.
        progress: draw a progress bar on standard error.
        label: what to call the file in messages (default: its name).
        hint: the end of the error message when every mirror fails (what the user can do instead).

    Raises:
        DownloadError: no mirror gave a file with the right checksum; the message lists why each failed.
    """
    # Imported here, not at the top, so that `import glassnet` stays quick.
    import urllib.error
    from http.client import HTTPException

    if not (sha256 or md5):
        raise ValueError("download refuses to fetch a file without an expected sha256 or md5")
    dest = Path(dest)
    label = label or dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    problems = []
    for url in urls:
        for attempt in range(1, retries + 1):
            try:
                _transfer(url, part, timeout=timeout, size=size, progress=progress, label=label)
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
                if exc.code == 416:           # our .part is longer than the file: start again
                    part.unlink(missing_ok=True)
                    continue
                if exc.code >= 500 and attempt < retries:   # the server's trouble: it may pass
                    time.sleep(min(0.2 * 2 ** attempt, 5.0))
                    continue
                break                          # 404, 403...: this mirror will not change its mind
            except TooLarge as exc:
                part.unlink(missing_ok=True)
                problems.append(f"{url}: {exc}; deleted the partial file")
                break
            except OSError as exc:
                if isinstance(exc, (FileNotFoundError, PermissionError)) or exc.errno in (errno.ENOSPC, errno.EDQUOT,
                                                                                          errno.EFBIG):
                    part.unlink(missing_ok=True)       # our disk's trouble, not the mirror's: no retry helps
                    raise DownloadError(f"could not save {label} in {dest.parent} ({exc.strerror}); deleted the "
                                        f"partial file; free some space or set GLASSNET_DATA to another "
                                        f"folder") from None
                reason = getattr(exc, "reason", exc)
                problems.append(f"{url}: {_describe(reason)} (attempt {attempt} of {retries})")
                if attempt < retries:
                    time.sleep(min(0.2 * 2 ** attempt, 5.0))
                continue
            except HTTPException as exc:
                reason = getattr(exc, "reason", exc)
                problems.append(f"{url}: {_describe(reason)} (attempt {attempt} of {retries})")
                if attempt < retries:
                    time.sleep(min(0.2 * 2 ** attempt, 5.0))
                continue
            ok, algorithm, actual = verify(part, sha256=sha256, md5=md5)
            if ok:
                os.replace(part, dest)
                return dest
            part.unlink(missing_ok=True)
            message = (f"{label} from {url} has the wrong {algorithm} checksum (expected "
                       f"{(sha256 or md5)[:16]}..., received {actual[:16]}...); deleted the bad file")
            print(f"glassnet: {message}", file=sys.stderr)
            problems.append(message)
            break
    reasons = "; ".join(problems[-4:])
    error = ChecksumError if problems and all("checksum" in p for p in problems) else DownloadError
    raise error(f"could not download {label} from any mirror ({reasons})" + (f"; {hint}" if hint else ""))


def _describe(reason):
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    return " ".join(str(reason).split()) or type(reason).__name__


def _transfer(url, part, *, timeout, size, progress, label):
    """Append the rest of ``url`` to ``part`` (resuming with ``Range`` when ``part`` has bytes)."""
    import urllib.request

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0                          # the server sent the whole file: start the .part again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        cap = size_cap(size)
        if length and length.isdigit() and have + int(length) > cap:
            raise TooLarge(f"announced {have + int(length):,} bytes, more than the {cap:,} expected at most")
        bar = _Progress(label, total, have, enabled=progress)
        received = 0
        try:
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    if have + received + len(chunk) > cap:
                        raise TooLarge(f"sent more than the {cap:,} bytes expected at most")
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(have + received)
        except BaseException:
            bar.end_line()                    # a dropped connection: the next message starts on its own line
            raise
        bar.close()
        if length and length.isdigit() and received < int(length):
            raise ConnectionResetError(f"connection closed after {have + received:,} of {total:,} bytes")


class _Progress:
    """``name  45%  12.3/26.4 MB  3.2 MB/s`` on standard error, redrawn at most 10 times a second on a
    terminal; elsewhere (a pipe, CI) just a line when the download ends."""

    def __init__(self, label, total, start, enabled=True, stream=None):
        self.label, self.total, self.done = label, total, start
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.last = time.perf_counter()
        self.start = start
        self.drawn = False                    # whether a bar is on the terminal's current line

    def update(self, done):
        self.done = done
        now = time.perf_counter()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self.stream.write("\r" + self._line(now))
            self.stream.flush()
            self.drawn = True

    def _line(self, now):
        rate = (self.done - self.start) / max(now - self.started, 1e-9) / 1e6
        size = f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB" if self.total else f"{self.done / 1e6:.1f} MB"
        percent = f"{100 * self.done / self.total:3.0f}% " if self.total else ""
        return f"downloading {self.label}  {percent}{size}  {rate:.1f} MB/s"

    def end_line(self):
        """End a half-drawn bar (on a terminal) without the final line."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()

    def close(self):
        if not self.enabled:
            return
        line = self._line(time.perf_counter())
        self.stream.write(("\r" + line + "\n") if self.tty else line + "\n")
        self.stream.flush()
