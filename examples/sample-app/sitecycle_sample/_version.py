"""The release's version; prepareSampleSource rewrites this file for each build."""

__version__ = "1.0.0"
