"""``campustwin users``: the users file of a console with sign-in (add, remove, list).

Passwords are read from the terminal (twice) or, for scripts, one line of stdin with
``--password-stdin``; never from the command line, where other users of the machine see it.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from app.roles import ROLES

EXIT_USER_ERROR = 2
LOCK_WAIT_S = 5.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="users and roles of a console with sign-in")
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = acts.add_parser("add", help="add a user, or set a user's role and password")
    q.add_argument("file", metavar="FILE")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=list(ROLES))
    q.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    q.add_argument("--oauth-only", action="store_true", help="no password: the user signs in through OAuth")
    q = acts.add_parser("remove", help="remove a user")
    q.add_argument("file", metavar="FILE")
    q.add_argument("name")
    q = acts.add_parser("list", help="users and their roles")
    q.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    from app.auth import NAME, UserEntry, hash_password, read_users

    path = Path(args.file)
    if args.action == "list":
        if not path.exists():  # silence would read as "a file with no users"
            print(f"{path}: no such users file; 'campustwin users add' makes one", file=sys.stderr)
            return EXIT_USER_ERROR
        users = read_users(path)  # a broken file: ProblemList, exit 2
        for user in users.values():
            how = "password" if user.password_hash else "oauth"
            print(f"{user.name:<32} {user.role:<9} {how}")
        return 0
    if not NAME.fullmatch(args.name):
        print(f"{args.name[:40]!r}: a user name is 1-64 letters, digits or . _ @ + -", file=sys.stderr)
        return EXIT_USER_ERROR
    password_hash = None
    if args.action == "add" and not args.oauth_only:
        try:  # asked before the file is locked: a prompt may wait for minutes
            password_hash = hash_password(_read_password(args.password_stdin))
        except ValueError as exc:
            print(f"password: {exc}", file=sys.stderr)
            return EXIT_USER_ERROR
    if path.is_symlink():  # the file the console reads is the link's target: change that one
        path = path.resolve()
    try:
        lock = _lock(path)
    except OSError as exc:
        print(f"{path}: cannot lock it ({exc.strerror or exc}); give a writable folder", file=sys.stderr)
        return EXIT_USER_ERROR
    if lock is None:
        print(f"{path}: another 'campustwin users' is changing it; try again", file=sys.stderr)
        return EXIT_USER_ERROR
    with lock:
        # Read, change and write under the lock: two admins adding users at once both land.
        if not path.exists() and args.action == "remove":
            print(f"{path}: no such users file; nobody to remove", file=sys.stderr)
            return EXIT_USER_ERROR
        users = read_users(path, empty_ok=True) if path.exists() else {}  # a broken file: ProblemList, exit 2
        if args.action == "remove":
            if users.pop(args.name, None) is None:
                print(f"{path}: no user {args.name!r}", file=sys.stderr)
                return EXIT_USER_ERROR
            return _write(path, users)
        users[args.name] = UserEntry(name=args.name, role=args.role, password_hash=password_hash)
        if _write(path, users):
            return EXIT_USER_ERROR
    print(f"{path}: {args.name} is {args.role}", file=sys.stderr)
    return 0


def _lock(path: Path, wait_s: float = LOCK_WAIT_S) -> TextIO | None:
    """An exclusive lock on ``.FILE.lock`` beside the users file, held while the returned file is
    open; None if another writer kept it for ``wait_s`` (give up rather than hang)."""
    lock_path = path.with_name(f".{path.name}.lock")
    handle = os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle  # closing it releases the lock
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                return None
            time.sleep(0.05)


def _write(path: Path, users: dict) -> int:
    from app.auth import write_users

    try:
        write_users(path, users)
    except OSError as exc:
        print(f"{path}: cannot write the users file ({exc.strerror}); give a writable path", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        from app.auth import MAX_PASSWORD

        # No more than the longest password, a character past it and a line end: a 300 MB line was
        # read whole, for a refusal.
        return sys.stdin.readline(MAX_PASSWORD + 3).rstrip("\r\n")  # a Windows line end is the same password
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask on; pipe it with --password-stdin")
    try:
        first = getpass.getpass("password: ")
        again = getpass.getpass("again: ")
    except EOFError:
        raise ValueError("no password given") from None
    if again != first:
        raise ValueError("the two entries differ")
    return first
