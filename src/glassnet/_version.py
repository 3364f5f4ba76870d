"""glassnet's version, in a module of its own: the package ``__init__`` and any module that names the
version (a saved model, the download User-Agent) import it from here, never from the package."""

__version__ = "0.1.0"
