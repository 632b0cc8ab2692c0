import pytest

import notes


KEY = "a-test-key-of-the-session-cookies"


@pytest.fixture
def app(tmp_path):
    app = notes.create_app(str(tmp_path / "notes.sqlite3"), secret_key=KEY)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def log_in(app, client, name="alice", password="correct horse"):
    with app.app_context():
        notes.db.set_user(name, password)
    return client.post("/login", data={"name": name, "password": password})


def test_version(client):
    r = client.get("/__version__")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == notes.__version__


def test_empty_list(client):
    assert "No notes yet." in client.get("/").get_data(as_text=True)


def test_post_then_list(app, client):
    assert log_in(app, client).status_code == 303
    r = client.post("/notes", data={"text": "buy <milk>"})
    assert r.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert '<li class="note">buy &lt;milk&gt;</li>' in page


def test_writing_needs_a_login(client):
    assert client.post("/notes", data={"text": "hello"}).status_code == 403
    assert "Log in" in client.get("/").get_data(as_text=True)


def test_wrong_password_refused(app, client):
    log_in(app, client)
    client.post("/logout")
    r = client.post("/login", data={"name": "alice", "password": "wrong one"})
    assert r.status_code == 401
    assert client.post("/notes", data={"text": "hello"}).status_code == 403


def test_create_user_command(app, monkeypatch):
    monkeypatch.setenv("NOTES_PASSWORD", "from the environment")
    result = app.test_cli_runner().invoke(args=["create-user", "bob"])
    assert result.exit_code == 0, result.output
    assert "user bob can log in" in result.output
    with app.app_context():
        assert notes.db.check_user("bob", "from the environment")
        assert not notes.db.check_user("bob", "another one")


def test_empty_note_refused(app, client):
    log_in(app, client)
    assert client.post("/notes", data={"text": "  "}).status_code == 400


def test_database_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTES_DATABASE", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("NOTES_SECRET_KEY", KEY)
    app = notes.create_app()
    assert app.config["NOTES_DATABASE"] == f"{tmp_path}/env.sqlite3"


def test_init_db_command(tmp_path):
    app = notes.create_app(str(tmp_path / "n.sqlite3"), secret_key=KEY)
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "0 notes" in result.output


def test_stylesheet_linked_and_collected(client, tmp_path):
    assert '<link rel="stylesheet" href="/static/style.css">' in client.get("/").get_data(as_text=True)
    app = notes.create_app(str(tmp_path / "n.sqlite3"), secret_key=KEY)
    target = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["collect-static", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "style.css").read_text().startswith("body")


def test_no_secret_key_no_app(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTES_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="NOTES_SECRET_KEY"):
        notes.create_app(str(tmp_path / "n.sqlite3"))
