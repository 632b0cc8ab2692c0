"""Reading the application's .ini file, whose path is in SITECYCLE_CONFIG."""

import configparser
import os

CONFIG_ENV = "SITECYCLE_CONFIG"
DEFAULT_GREETING = "Hello from sitecycle-sample"


class ConfigProblem(Exception):
    """The config file is missing, unreadable or lacks the [app] section."""


def config_path():
    """The path named by SITECYCLE_CONFIG, or None when it is unset or empty."""
    return os.environ.get(CONFIG_ENV) or None


def load_config(path):
    """Parse the .ini file at path; raise ConfigProblem saying what is wrong."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigProblem("cannot read config file %s: %s" % (path, exc.strerror or exc))
    except configparser.Error as exc:
        raise ConfigProblem("config file %s is not a valid .ini file: %s" % (path, exc))
    if not parser.has_section("app"):
        raise ConfigProblem("config file %s has no [app] section" % path)
    return parser


def greeting():
    """The [app] greeting from the config file, or the default when no file is configured."""
    path = config_path()
    if path is None:
        return DEFAULT_GREETING
    return load_config(path).get("app", "greeting", fallback=DEFAULT_GREETING)
