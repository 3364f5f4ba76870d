"""The errors the dataset code raises: each names the file (and row, column or URL) at fault."""

from ..errors import GlassnetError


class DatasetError(GlassnetError, ValueError):
    """Data that cannot be used: a damaged IDX file, a bad CSV cell, an unreadable image, an unknown name."""


class DownloadError(GlassnetError, OSError):
    """A dataset could not be downloaded (offline, every mirror failed, or a checksum did not match)."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 (or MD5) is not the one written in the code; the file was deleted."""
