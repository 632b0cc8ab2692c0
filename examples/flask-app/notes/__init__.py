"""Notes: a small Flask application that sitecycle releases and deploys (examples/flask-app)."""

import os
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version as _version

import click
from flask import (
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext

from . import db

try:
    # The one version is pyproject.toml's (sitecycle release reads it there).
    __version__ = _version("sitecycle-notes")
except PackageNotFoundError:  # run from the source tree, not installed
    __version__ = "0+source"


def create_app(database=None, secret_key=None):
    """The application. Its SQLite database is `database`, else the NOTES_DATABASE variable
    (a path or a sqlite:/// URL, as sitecycle's {{ database.url }} gives it); the key that signs
    its session cookies is `secret_key`, else NOTES_SECRET_KEY (a secret in sitecycle.yml)."""
    app = Flask(__name__)
    app.config["NOTES_DATABASE"] = db.path_from(database or os.environ.get("NOTES_DATABASE", ""))
    app.secret_key = secret_key or os.environ.get("NOTES_SECRET_KEY")
    if not app.secret_key:
        raise RuntimeError("NOTES_SECRET_KEY is not set: the key that signs the session cookies")
    # Lax: a form on another site cannot post with the session (this small app has no CSRF token).
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.cli.add_command(db.init_db_command)
    app.cli.add_command(db.create_user_command)
    app.cli.add_command(collect_static_command)

    @app.get("/__version__")
    def version():
        return __version__, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/")
    def index():
        return render_template(
            "index.html", notes=db.list_notes(), version=__version__, user=session.get("user")
        )

    @app.get("/login")
    def login_form():
        return render_template("login.html", error=None)

    @app.post("/login")
    def login():
        name = request.form.get("name", "")
        if not db.check_user(name, request.form.get("password", "")):
            return render_template("login.html", error="wrong name or password"), 401
        session.clear()
        session["user"] = name
        return redirect(url_for("index"), code=303)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("index"), code=303)

    @app.post("/notes")
    def add_note():
        if not session.get("user"):
            abort(403, "log in to write a note")
        text = request.form.get("text", "").strip()
        if not text or len(text) > 2000:
            abort(400, "a note is 1 to 2000 characters")
        db.add_note(text)
        return redirect(url_for("index"), code=303)

    return app


@click.command("collect-static")
@click.argument("target", required=False)
@with_appcontext
def collect_static_command(target):
    """Copy the static files into TARGET for the web server to serve (default: `static/` in the
    release, $SITECYCLE_RELEASE_DIR as sitecycle's hooks get it, else the virtualenv)."""
    target = target or os.path.join(os.environ.get("SITECYCLE_RELEASE_DIR") or sys.prefix, "static")
    shutil.copytree(current_app.static_folder, target, dirs_exist_ok=True)
    click.echo(f"static files copied to {target}")
