"""sitecycle-sample: a small WSGI application used to exercise sitecycle."""

from ._version import __version__

__all__ = ["__version__"]
