"""Maintenance commands: python -m sitecycle_sample.manage check | env [--out FILE] NAME...

env: print NAME=value for each name given (the environment hooks get), into FILE with --out.
check: exit 0 when the config file named by SITECYCLE_CONFIG is readable and has an
[app] section; otherwise print why and exit 1. Used as an after_install hook.
"""

import sys

from ._version import __version__
from .config import CONFIG_ENV, ConfigProblem, config_path, load_config

USAGE = "usage: python -m sitecycle_sample.manage check | env [--out FILE] NAME..."


def check():
    """Validate the config file; return the process exit code."""
    path = config_path()
    if path is None:
        print("%s is not set: it must name the application's .ini file" % CONFIG_ENV, file=sys.stderr)
        return 1
    try:
        load_config(path)
    except ConfigProblem as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("sitecycle-sample %s: config %s is valid" % (__version__, path))
    return 0


def env(names, out=None):
    """Print NAME=value for each name (value <unset> when it is not set), to `out` when given
    (a file path) or stdout; return 0."""
    import os

    text = "".join("%s=%s\n" % (name, os.environ.get(name, "<unset>")) for name in names)
    if out is None:
        sys.stdout.write(text)
    else:
        with open(out, "w") as f:
            f.write(text)
    return 0


def main(argv):
    if argv == ["check"]:
        return check()
    if argv[:2] == ["env", "--out"] and len(argv) > 3:
        return env(argv[3:], argv[2])
    if argv[:1] == ["env"] and len(argv) > 1 and argv[1] != "--out":
        return env(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
