"""sitecycle-sample-dep: a dependency for the sample application in wheelhouse tests."""

__version__ = "0.1.0"

MARK = "decorated by sitecycle-sample-dep"


def decorate(text):
    """The text followed by the library's mark and version."""
    return "%s (%s %s)" % (text, MARK, __version__)


__all__ = ["__version__", "MARK", "decorate"]
