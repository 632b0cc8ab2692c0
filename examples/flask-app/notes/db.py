"""The notes and users tables in SQLite: created on first use, or by `flask --app notes init-db`."""

import os
import sqlite3

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import check_password_hash, generate_password_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
"""


def path_from(value):
    """A database path from a plain path or a sqlite:/// URL."""
    if value.startswith("sqlite:///"):
        value = value[len("sqlite:///"):]
    if not value:
        raise RuntimeError("NOTES_DATABASE is not set: the path of the notes' SQLite database")
    return value


def connect():
    conn = sqlite3.connect(current_app.config["NOTES_DATABASE"], timeout=10)
    conn.executescript(SCHEMA)
    return conn


def add_note(text):
    with connect() as conn:
        conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
    conn.close()


def list_notes():
    conn = connect()
    try:
        return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY id")]
    finally:
        conn.close()


def set_user(name, password):
    """Add the user `name`, or give it a new password."""
    with connect() as conn:
        conn.execute(
            "INSERT INTO users (name, password_hash) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
            (name, generate_password_hash(password)),
        )
    conn.close()


def check_user(name, password):
    """Whether `password` is the password of the user `name`."""
    conn = connect()
    try:
        row = conn.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return row is not None and check_password_hash(row[0], password)


@click.command("create-user")
@click.argument("name")
@with_appcontext
def create_user_command(name):
    """Add the user NAME (or set its password): the password from NOTES_PASSWORD, else asked."""
    password = os.environ.get("NOTES_PASSWORD") or click.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    if len(password) < 8:
        raise click.UsageError("a password has at least 8 characters")
    set_user(name, password)
    click.echo(f"user {name} can log in")


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the notes table (if missing) and say how many notes there are."""
    conn = connect()
    try:
        count = conn.execute("SELECT count(*) FROM notes").fetchone()[0]
    finally:
        conn.close()
    click.echo(f"notes database {current_app.config['NOTES_DATABASE']}: {count} notes")
