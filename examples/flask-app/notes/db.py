"""The notes table in SQLite: created on first use, or by `flask --app notes init-db`."""

import sqlite3

import click
from flask import current_app
from flask.cli import with_appcontext

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
)
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
    conn.execute(SCHEMA)
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
