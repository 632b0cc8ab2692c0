import pytest

import notes


@pytest.fixture
def client(tmp_path):
    app = notes.create_app(str(tmp_path / "notes.sqlite3"))
    app.config["TESTING"] = True
    return app.test_client()


def test_version(client):
    r = client.get("/__version__")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == notes.__version__


def test_empty_list(client):
    assert "No notes yet." in client.get("/").get_data(as_text=True)


def test_post_then_list(client):
    r = client.post("/notes", data={"text": "buy <milk>"})
    assert r.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert '<li class="note">buy &lt;milk&gt;</li>' in page


def test_empty_note_refused(client):
    assert client.post("/notes", data={"text": "  "}).status_code == 400


def test_database_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTES_DATABASE", f"sqlite:///{tmp_path}/env.sqlite3")
    app = notes.create_app()
    assert app.config["NOTES_DATABASE"] == f"{tmp_path}/env.sqlite3"


def test_init_db_command(tmp_path):
    app = notes.create_app(str(tmp_path / "n.sqlite3"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "0 notes" in result.output


def test_stylesheet_linked_and_collected(client, tmp_path):
    assert '<link rel="stylesheet" href="/static/style.css">' in client.get("/").get_data(as_text=True)
    app = notes.create_app(str(tmp_path / "n.sqlite3"))
    target = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["collect-static", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "style.css").read_text().startswith("body")
