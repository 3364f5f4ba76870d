"""The named datasets: fetch them into the cache (verified) and say whether they are there.

``fetch("fashion-mnist")`` returns a folder holding the four IDX files, downloading whatever
is missing; a file already in the cache is trusted only if its checksum matches. EMNIST
arrives as one zip of all its sets; after the zip's SHA-256 is checked, the four digits
files are extracted (each checked by the zip's CRC-32) and the zip is deleted.
"""

import os
from pathlib import Path

from . import catalog, download
from .errors import DatasetError, DownloadError


def folder_for(entry, cache_dir=None):
    """The cache folder of a named dataset (which may not exist yet)."""
    return Path(cache_dir if cache_dir is not None else download.cache_dir()) / entry.name


def is_cached(name: str, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """True if all of the dataset's files are in the cache (sizes checked, not checksums: that is cheap)."""
    entry = _entry(name)
    folder = folder_for(entry, cache_dir)
    for role, file_name in entry.file_names().items():
        path = folder / file_name
        remote = entry.files[role]
        if not path.is_file() or (not isinstance(remote, str) and remote.size and path.stat().st_size != remote.size):
            return False
    return True


def fetch(name: str, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
          timeout: float = download.TIMEOUT, retries: int = download.RETRIES, mirrors: list[str] | None = None) -> Path:
    """Make sure a named dataset's files are in the cache, verified; returns their folder.

    Args:
        name: ``mnist``, ``fashion-mnist``, ``kmnist`` or ``emnist-digits``.
        cache_dir: the cache folder (default :func:`glassnet.datasets.download.cache_dir`).
        progress: progress bar on standard error.
        timeout, retries: see :func:`glassnet.datasets.download.download`.
        mirrors: base URLs to use instead of the catalog's (for tests and private mirrors).

    Raises:
        DownloadError: offline, or no mirror had a file with the right checksum.
    """
    entry = _entry(name)
    folder = folder_for(entry, cache_dir)
    hint = f"put the files in {folder} or pass --dataset PATH"
    bases = tuple(mirrors) if mirrors is not None else entry.mirrors
    if entry.archive is not None:
        _fetch_archive(entry, folder, bases, hint, progress=progress, timeout=timeout, retries=retries)
        return folder
    for remote in entry.files.values():
        path = folder / remote.name
        if path.is_file():
            ok, _, _ = download.verify(path, sha256=remote.sha256)
            if ok:
                continue
            path.unlink()                       # damaged or replaced: fetch again
        download.download([base + remote.name for base in bases], path, sha256=remote.sha256, size=remote.size,
                          progress=progress, timeout=timeout, retries=retries,
                          label=f"{entry.name}/{remote.name}", hint=hint)
    return folder


def _fetch_archive(entry, folder, bases, hint, **options):
    """Download a zip holding the files (EMNIST), extract the ones we need, delete the zip."""
    import zipfile

    if is_cached(entry.name, folder.parent):
        return
    archive = folder / entry.archive.name
    if not archive.is_file() or not download.verify(archive, sha256=entry.archive.sha256)[0]:
        archive.unlink(missing_ok=True)
        download.download([base + entry.archive.name for base in bases], archive, sha256=entry.archive.sha256,
                          size=entry.archive.size, label=f"{entry.name}/{entry.archive.name}", hint=hint, **options)
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = {Path(m).name: m for m in bundle.namelist()}
            for file_name in entry.file_names().values():
                if file_name not in members:
                    raise DatasetError(f"{archive}: expected {file_name} inside the zip, it is not there")
                target = folder / file_name
                part = target.with_name(target.name + ".part")
                with bundle.open(members[file_name]) as source, open(part, "wb") as out:
                    while chunk := source.read(1 << 20):   # zipfile checks the CRC-32 at the end
                        out.write(chunk)
                os.replace(part, target)
    except (zipfile.BadZipFile, OSError) as exc:
        for file_name in entry.file_names().values():
            (folder / (file_name + ".part")).unlink(missing_ok=True)
        raise DownloadError(f"{archive}: could not extract the {entry.name} files ({exc})") from None
    archive.unlink()


def _entry(name):
    entry = catalog.lookup(name)
    if entry is None:
        raise DatasetError(f"unknown dataset {name!r}; named datasets: digits, {', '.join(catalog.CATALOG)}")
    return entry
