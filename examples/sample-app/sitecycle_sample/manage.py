"""Maintenance commands: python -m sitecycle_sample.manage check

check: exit 0 when the config file named by SITECYCLE_CONFIG is readable and has an
[app] section; otherwise print why and exit 1. Used as an after_install hook.
"""

import sys

from ._version import __version__
from .config import CONFIG_ENV, ConfigProblem, config_path, load_config

USAGE = "usage: python -m sitecycle_sample.manage check"


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


def main(argv):
    if argv == ["check"]:
        return check()
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
