"""The WSGI entry point: sitecycle_sample.wsgi:application, or the factory
sitecycle_sample.wsgi:create_app(label, show="NAME,NAME")."""

import html
import os
import time
from urllib.parse import parse_qs

from ._broken import BROKEN
from ._version import __version__
from .config import ConfigProblem, greeting

try:
    # Optional: only builds that declare the dependency have it (sitecycle's wheelhouse tests).
    import sitecycle_sample_dep as _dep
except ImportError:
    _dep = None

if BROKEN == "import":
    raise RuntimeError("sitecycle_sample %s is broken on purpose: import fails" % __version__)

MAX_SLOW_MS = 5000

# The environment as this module was imported: what the application sees at import time.
_ENV_AT_IMPORT = dict(os.environ)


def _respond(start_response, status, content_type, body):
    data = body.encode("utf-8")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("X-Sample-Version", __version__),
        ("Cache-Control", "no-store"),
    ]
    if _dep is not None:
        headers.append(("X-Sample-Dep", _dep.__version__))
    start_response(status, headers)
    return [data]


def _version(environ, start_response):
    if BROKEN == "health":
        return _respond(
            start_response,
            "500 Internal Server Error",
            "text/plain; charset=utf-8",
            "broken on purpose\n",
        )
    return _respond(start_response, "200 OK", "text/plain; charset=utf-8", __version__ + "\n")


def _index(environ, start_response):
    try:
        text = greeting()
    except ConfigProblem as exc:
        return _respond(
            start_response, "500 Internal Server Error", "text/plain; charset=utf-8", "%s\n" % exc
        )
    if _dep is not None:
        text = _dep.decorate(text)
    page = (
        "<!doctype html>\n<html><head><title>sitecycle-sample %(v)s</title></head>\n"
        "<body><h1>%(g)s</h1><p>sitecycle-sample version %(v)s</p></body></html>\n"
    ) % {"v": html.escape(__version__), "g": html.escape(text)}
    return _respond(start_response, "200 OK", "text/html; charset=utf-8", page)


def _slow(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        ms = int(query.get("ms", ["0"])[0])
    except ValueError:
        return _respond(
            start_response, "400 Bad Request", "text/plain; charset=utf-8", "ms must be an integer\n"
        )
    ms = max(0, min(ms, MAX_SLOW_MS))
    time.sleep(ms / 1000.0)
    return _respond(start_response, "200 OK", "text/plain; charset=utf-8", "slept %d ms\n" % ms)


_ROUTES = {"/__version__": _version, "/": _index, "/slow": _slow}


def application(environ, start_response):
    """Answer GET (and HEAD) on /, /__version__ and /slow?ms=N; 404 elsewhere."""
    handler = _ROUTES.get(environ.get("PATH_INFO") or "/")
    if handler is None:
        return _respond(start_response, "404 Not Found", "text/plain; charset=utf-8", "not found\n")
    if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return _respond(
            start_response,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "method not allowed\n",
        )
    return handler(environ, start_response)


def create_app(label, show=""):
    """An application factory: `application`, plus GET /factory answering the label and, for
    each name in `show` (comma-separated), NAME=value as it was when this module was imported."""
    names = [n for n in show.split(",") if n]

    def _factory(environ, start_response):
        lines = [label] + ["%s=%s" % (n, _ENV_AT_IMPORT.get(n, "<unset>")) for n in names]
        return _respond(start_response, "200 OK", "text/plain; charset=utf-8", "\n".join(lines) + "\n")

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/factory":
            return _factory(environ, start_response)
        return application(environ, start_response)

    return app
