"""Users file, passwords, lockout and roles (app.auth, app.roles), and serve's refusals."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import auth
from app.auth import UserEntry, UserStore, hash_password, read_users, write_users
from app.roles import EXPORT, RUN, SAVE, VIEW, Access
from app.server import cookie_secret
from twin.errors import ProblemList

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    write_users(path, {
        "ann": UserEntry(name="ann", role="admin", password_hash=hash_password("admin-pass-1")),
        "vic": UserEntry(name="vic", role="viewer", password_hash=hash_password("viewer-pass-1")),
        "sso@corp.example": UserEntry(name="sso@corp.example", role="operator"),
    })  # fmt: skip
    return path


def test_passwords_are_stored_as_argon2_hashes_owner_only(users_file: Path) -> None:
    text = users_file.read_text()
    assert text.count("$argon2id$") == 2 and "admin-pass-1" not in text
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    store = UserStore(users_file)
    assert store.verify("ann", "admin-pass-1") and not store.verify("ann", "viewer-pass-1")
    assert not store.verify("nobody", "admin-pass-1")
    assert not store.verify("sso@corp.example", "")  # OAuth-only: no password signs them in
    assert not store.verify("ann", "admin-pass-1" + "x" * 2000)  # not cut down to a prefix that matches
    assert store.role_of("sso@corp.example") == "operator" and store.role_of("nobody") is None


def test_roles_allow_what_the_issue_says() -> None:
    can = {role: {a for a in (VIEW, RUN, SAVE, EXPORT) if Access("u", role).can(a)} for role in auth.ROLES}
    assert can == {
        "viewer": {VIEW},
        "operator": {VIEW, RUN, SAVE},
        "planner": {VIEW, EXPORT},
        "admin": {VIEW, RUN, SAVE, EXPORT},
    }
    assert Access("u", "viewer").refusal(RUN) == (
        "Your role (viewer) may not run what-ifs; ask for the operator or admin role."
    )
    assert Access("u", "none").refusal(VIEW) is not None


def test_repeated_failures_lock_a_name_out_for_a_while(users_file: Path, monkeypatch) -> None:
    store = UserStore(users_file)
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    for _ in range(auth.MAX_FAILURES):
        assert not store.verify("vic", "guess")
    assert not store.verify("vic", "viewer-pass-1")  # locked: even the right password waits
    assert store.verify("ann", "admin-pass-1")  # other names are not affected
    clock[0] += auth.LOCKOUT_S + 1
    assert store.verify("vic", "viewer-pass-1")


def test_the_file_is_read_again_when_it_changes(users_file: Path) -> None:
    store = UserStore(users_file)
    users = read_users(users_file)
    users["vic"] = UserEntry(name="vic", role="planner", password_hash=users["vic"].password_hash)
    del users["ann"]
    time.sleep(0.01)
    write_users(users_file, users)
    assert store.role_of("vic") == "planner" and store.role_of("ann") is None
    users_file.write_text("users: [")  # half-edited by hand: the last good file still holds
    assert store.role_of("vic") == "planner"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users:\n  - {name: a, role: boss, password_hash: $argon2id$x}\n", "role 'boss' is not one of"),
        ("users:\n  - {name: a, role: admin, password_hash: hunter22}\n", "never write a password here"),
        ("users:\n  - {name: '../x', role: admin}\n", "a user name is 1-64"),
        ("users:\n  - {name: a, role: admin}\n  - {name: a, role: viewer}\n", "listed twice"),
        ("users: []\n", "no users"),
        ("# nobody yet\n\n", "file is empty; add a user with 'campustwin users add"),
        ("users: !!python/object:os.system x\n", "tag"),
    ],
)
def test_a_bad_users_file_names_the_place_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(ProblemList) as exc:
        UserStore(path)
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_cookie_secret_is_kept_owner_only_and_reused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CAMPUSTWIN_COOKIE_SECRET", raising=False)
    first = cookie_secret(tmp_path / "data")
    assert len(first) >= 48 and cookie_secret(tmp_path / "data") == first
    assert stat.S_IMODE((tmp_path / "data" / "cookie_secret").stat().st_mode) == 0o600


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin, text=True, capture_output=True,
                          cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip


def test_serve_without_users_refuses_other_addresses_and_bad_users_files(tmp_path: Path) -> None:
    done = run_cli("serve", "--address", "0.0.0.0", "--port", "1")
    assert done.returncode == 2 and "give --users FILE" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "users.yaml"
    bad.write_text("users:\n  - {name: a, role: root}\n")
    done = run_cli("serve", "--users", str(bad), "--port", "1", "--data", str(tmp_path / "d"))
    assert done.returncode == 2 and "role 'root'" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("serve", "--users", str(tmp_path / "missing.yaml"), "--port", "1")
    assert done.returncode == 2 and "cannot read the users file" in done.stderr
    done = run_cli("serve", "--sites", str(tmp_path / "no-sites"), "--port", "1")  # would serve nothing
    assert (
        done.returncode == 2 and "no-sites: not a folder; give the folder of your site files" in done.stderr
    )
    done = run_cli("users", "list", str(tmp_path / "missing.yaml"))  # not "a file with no users"
    assert done.returncode == 2 and "no such users file; 'campustwin users add' makes one" in done.stderr
    with socket.socket() as taken:  # a port another program holds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run_cli("serve", "--port", str(taken.getsockname()[1]), "--data", str(tmp_path / "d"))
    assert done.returncode == 2 and "cannot listen there" in done.stderr and "Traceback" not in done.stderr

    def add_x(password_line: str) -> subprocess.CompletedProcess:
        return run_cli("users", "add", str(tmp_path / "u.yaml"), "x", "--role", "admin", "--password-stdin",
                       stdin=password_line)  # fmt: skip

    done = add_x("short\n")
    assert done.returncode == 2 and "at least 8 characters" in done.stderr
    done = add_x(" " * 12 + "\n")
    assert done.returncode == 2 and "a password of spaces only is refused" in done.stderr
    # Sign-in checks at most 1,024 characters: a longer password could be stored but never match.
    done = add_x("x" * 2000)
    assert done.returncode == 2 and "at most 1,024 characters" in done.stderr
    done = add_x("windows-pass\r\n")  # a line ended on Windows: the \r is not part of the password
    assert done.returncode == 0 and UserStore(tmp_path / "u.yaml").verify("x", "windows-pass")
    write_users(bad.with_name("ok.yaml"), {})
    done = run_cli(
        "serve", "--users", str(bad.with_name("ok.yaml")), "--oauth-provider", "bogus", "--port", "1"
    )
    assert (
        done.returncode == 2 and "--oauth-provider 'bogus': not a provider Panel knows; one of" in done.stderr
    )


def test_oauth_is_configured_from_the_environment_roles_from_the_file(users_file: Path, monkeypatch) -> None:
    import panel as pn

    from app.server import _sign_in_options

    monkeypatch.setenv("CAMPUSTWIN_OAUTH_SECRET", "s3cret")
    monkeypatch.setenv("CAMPUSTWIN_OAUTH_EXTRA", '{"TOKEN_URL": "https://idp.example/token"}')
    monkeypatch.setenv("CAMPUSTWIN_COOKIE_SECRET", "c" * 48)
    before = pn.config.authorize_callback
    try:
        options = _sign_in_options(UserStore(users_file), users_file.parent, "generic", "client-id")
        assert options["oauth_provider"] == "generic" and options["oauth_key"] == "client-id"
        assert options["oauth_secret"] == "s3cret" and options["cookie_secret"] == "c" * 48
        assert options["oauth_extra_params"] == {"TOKEN_URL": "https://idp.example/token"}
        assert "auth_provider" not in options
        authorize = pn.config.authorize_callback
        assert authorize({"user": "sso@corp.example"}, "/whatif") and not authorize(
            {"user": "eve"}, "/whatif"
        )
        assert not authorize(None, "/whatif")
    finally:
        pn.config.authorize_callback = before


def test_a_demotion_or_removal_applies_to_open_pages_at_their_next_action(users_file: Path) -> None:
    from app.auth import LiveAccess

    store = UserStore(users_file)
    page = LiveAccess(store, "ann")  # what an open page of ann's holds
    assert page.can(EXPORT) and page.refusal(EXPORT) is None
    users = read_users(users_file)
    users["ann"] = UserEntry(name="ann", role="viewer", password_hash=users["ann"].password_hash)
    time.sleep(0.01)
    write_users(users_file, users)
    assert not page.can(EXPORT) and "Your role (viewer)" in page.refusal(EXPORT)
    users_file.unlink()  # no users file: nobody may do anything
    assert page.role == "none" and not page.can(VIEW)


def test_one_address_trying_many_names_is_locked_out(users_file: Path) -> None:
    store = UserStore(users_file)
    for i in range(auth.MAX_FAILURES_PER_SOURCE):
        assert not store.verify(f"guess{i}", "x", source="10.0.0.9")
    assert not store.verify("ann", "admin-pass-1", source="10.0.0.9")
    assert store.verify("ann", "admin-pass-1", source="10.0.0.10")


def test_a_missing_users_file_is_told_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ProblemList) as exc:
        UserStore(tmp_path / "nope.yaml")
    assert "cannot read the users file" in str(exc.value) and "campustwin users add" in str(exc.value)


def test_users_add_starts_from_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("")  # touch, chmod 600, then add: a way to start
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "users",
        "add",
        str(path),
        "ann",
        "--role",
        "admin",
        "--password-stdin",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, input="a long passphrase\n", capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert list(read_users(path)) == ["ann"]


def test_sign_in_redirects_only_to_this_server() -> None:
    from app.login import safe_next

    assert safe_next("/whatif?base=demo") == "/whatif?base=demo"
    for hostile in (
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "https://evil.example",
        "evil",
        "",
    ):
        assert safe_next(hostile) == "", hostile


def test_the_optimiser_inputs_are_checked_on_the_server() -> None:
    from app.views.whatif_tools import checked_targets

    assert checked_targets(0.99, 0.95, 0.05, 2) == {
        "sla": 0.99, "confidence": 0.95, "max_internal_slowdown": 0.05, "replications": 2
    }  # fmt: skip
    for bad, told in (
        ((None, 0.95, 0.05, 2), "SLA availability: type a number."),
        ((0.99, 0.95, 0.05, 10**7), "Seeds per size: a whole number from 1 to 16 here"),
        ((0.99, 0.95, 0.05, float("inf")), "Seeds per size: type a number."),
        ((0.99, 0.95, 0.05, 2.7), "Seeds per size: a whole number"),
        ((float("nan"), 0.95, 0.05, 2), "SLA availability: type a number."),
        ((1.5, 1, 0, 1), "SLA availability: must be above 0 and at most 1, got 1.5"),
    ):
        message = checked_targets(*bad)
        assert message.startswith(told) and "--" not in message, (bad, message)


def test_admins_adding_users_at_once_all_land(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    names = [f"user{i}" for i in range(6)]
    cmd = [sys.executable, "-m", "app.cli", "users", "add", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([*cmd, name, "--role", "operator", "--password-stdin"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for name in names
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate("a long passphrase\n", timeout=120)
        assert proc.returncode == 0, err
    assert sorted(read_users(path)) == names


def test_a_users_file_held_by_another_writer_is_refused_not_waited_on(tmp_path: Path, monkeypatch) -> None:
    import fcntl

    from app import cli_users

    path = tmp_path / "users.yaml"
    with open(tmp_path / ".users.yaml.lock", "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another `campustwin users` in the middle of a change
        assert cli_users._lock(path, wait_s=0.2) is None
        done = run_cli("users", "remove", str(path), "someone")
    assert done.returncode == 2 and "another 'campustwin users' is changing it" in done.stderr
    assert cli_users._lock(path, wait_s=0.2) is not None  # free again once the other writer is done


def test_a_push_to_a_closed_tab_leaves_no_traceback_in_the_log(caplog) -> None:
    """A tab closed while Bokeh pushes to it is routine; a real error is still logged."""
    import logging

    from tornado.websocket import WebSocketClosedError

    from app.server import _quiet_closed_tabs

    _quiet_closed_tabs()
    log = logging.getLogger("asyncio")
    for exc in (WebSocketClosedError(), RuntimeError("a real one")):
        log.error("Task exception was never retrieved", exc_info=(type(exc), exc, None))
    assert [r.exc_info[0] for r in caplog.records] == [RuntimeError]


def test_a_users_file_reached_by_a_link_is_changed_where_it_is(users_file: Path) -> None:
    """``users remove`` through a symlink replaced the link with a file of its own: the console,
    reading the real file, kept the user that was removed."""
    link = users_file.with_name("link.yaml")
    link.symlink_to(users_file.name)
    done = run_cli("users", "remove", str(link), "vic")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and "vic" not in read_users(users_file)
