"""Sign-in for the console: a users file of argon2 password hashes, roles, and Panel's login page.

The users file is YAML (``campustwin users add FILE NAME --role ROLE`` writes it)::

    users:
      - name: alice
        role: operator            # viewer, operator, planner or admin (app.roles)
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...

Passwords are never on disk, only their argon2id hashes (argon2-cffi). A user whose entry has no
``password_hash`` can sign in only through an OAuth/OIDC provider (``serve --oauth-provider``),
which then only names the user: the role still comes from this file.

The file is read again whenever it changes, so removing a user or changing a role takes effect at
that user's next page. Failed sign-ins are counted per name: after ``MAX_FAILURES`` in a row the
name is refused for ``LOCKOUT_S`` seconds, which makes guessing slow without locking anyone out
for long.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.roles import ROLES, Access
from twin.errors import Problem, ProblemList
from twin.load import validate_document
from twin.textfile import EmptyFile
from twin.yamlsafe import load_yaml

NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
MAX_FAILURES, LOCKOUT_S = 5, 60.0
MAX_FAILURES_PER_SOURCE = 20  # one address, any names
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # sign-in never hashes more (a megabyte of password is work for argon2, not security)
_HASHER = PasswordHasher()
#: checked against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _HASHER.hash("campustwin: no such user")


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: str
    password_hash: str | None = Field(default=None, description="argon2id hash; absent for OAuth-only users")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.fullmatch(value):
            raise ValueError("a user name is 1-64 letters, digits or . _ @ + -")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"role {value!r} is not one of {', '.join(ROLES)}")
        return value

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2"):
            raise ValueError("not an argon2 hash; never write a password here: use 'campustwin users add'")
        return value


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[UserEntry] = Field(default_factory=list)


def read_users(path: str | Path, empty_ok: bool = False) -> dict[str, UserEntry]:
    """The users of ``path`` by name; ProblemList (file, line, fix) when the file is wrong.

    ``empty_ok``: a file of blanks or comments holds no users (``touch`` then ``users add`` is a
    way to start); else it is refused, as a console with nobody to sign in would be useless.
    """
    try:
        doc = load_yaml(path)
    except EmptyFile:
        if empty_ok:
            return {}
        raise ProblemList.one(
            str(path), 1, "file is empty; add a user with 'campustwin users add FILE NAME --role ROLE'"
        ) from None
    model = validate_document(doc, UsersFile)
    found: dict[str, UserEntry] = {}
    for i, user in enumerate(model.users):
        if user.name in found:
            raise ProblemList([Problem(str(path), doc.line_of(("users", i)), f"users[{i}].name",
                                       f"user {user.name!r} is listed twice; keep one entry")])  # fmt: skip
        found[user.name] = user
    return found


class UserStore:
    """The users file, re-read when it changes; verifies passwords and tells roles."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, UserEntry] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        try:
            self._load()
        except OSError as exc:
            raise ProblemList([Problem(str(self.path), 0, "", f"cannot read the users file ({exc.strerror}); "
                                       "create it with 'campustwin users add'")]) from None  # fmt: skip
        if not self._users:
            raise ProblemList(
                [Problem(str(self.path), 0, "users", "no users; add one with 'campustwin users add'")]
            )

    def _load(self) -> dict[str, UserEntry]:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._users, self._stamp = read_users(self.path), stamp
            return self._users

    def _current(self) -> dict[str, UserEntry]:
        try:
            return self._load()
        except FileNotFoundError:
            return {}  # the file was removed: nobody may use the console any more
        except (OSError, ProblemList):
            return self._users  # a file half-edited by hand: keep the last good one

    def role_of(self, name: str | None) -> str | None:
        user = self._current().get(name or "")
        return user.role if user else None

    def verify(self, name: str, password: str, source: str = "") -> bool:
        """True when ``password`` is ``name``'s; counts failures and locks a name out for a while.

        ``source`` (the client's address) is counted too, with ``MAX_FAILURES_PER_SOURCE``: a
        client trying many names is slowed down as one trying one name is.
        """
        now = time.monotonic()
        with self._lock:
            if source and self._locked(f"source:{source}", MAX_FAILURES_PER_SOURCE, now):
                return False
            failures, last = self._failures.get(name, (0, 0.0))
            if failures >= MAX_FAILURES:
                if now - last < LOCKOUT_S:
                    return False
                failures = 0
        user = self._current().get(name)
        stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
        try:
            fits = len(password) <= MAX_PASSWORD  # no stored password is longer (hash_password)
            ok = fits and _HASHER.verify(stored, password) and stored is not _DUMMY_HASH
        except (VerificationError, InvalidHashError):
            ok = False
        with self._lock:
            if ok:
                self._failures.pop(name, None)
            else:
                if len(self._failures) > 10_000:
                    self._failures.clear()
                if len(name) <= 64:  # names longer than any user's are not remembered
                    self._failures[name] = (failures + 1, now)
                if source:
                    count, _ = self._failures.get(f"source:{source}", (0, 0.0))
                    self._failures[f"source:{source}"] = (count + 1, now)
        return ok

    def _locked(self, key: str, limit: int, now: float) -> bool:
        count, last = self._failures.get(key, (0, 0.0))
        if count < limit:
            return False
        if now - last < LOCKOUT_S:
            return True
        del self._failures[key]
        return False


class LiveAccess:
    """A signed-in session's access: the role is looked up again at every check.

    A page keeps its session for hours; removing a user or changing their role in the file
    applies to their open pages at their next action, not only at their next sign-in.
    """

    def __init__(self, store: UserStore, user: str):
        self.store, self.user = store, user

    @property
    def role(self) -> str:
        return self.store.role_of(self.user) or "none"

    def can(self, action: str) -> bool:
        return Access(self.user, self.role).can(action)

    def refusal(self, action: str) -> str | None:
        return Access(self.user, self.role).refusal(action)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password is at least {MIN_PASSWORD} characters")
    if not password.strip():
        raise ValueError("a password of spaces only is refused; type a phrase")
    if len(password) > MAX_PASSWORD:  # sign-in checks no more than this: a longer one could never match
        raise ValueError(f"a password is at most {MAX_PASSWORD:,} characters")
    return _HASHER.hash(password)


def write_users(path: str | Path, users: dict[str, UserEntry]) -> None:
    """Write the users file atomically, readable by its owner only."""
    path = Path(path)
    body = {"users": [u.model_dump(exclude_none=True) for u in users.values()]}
    text = "# campustwin users: argon2id hashes, never passwords (campustwin users add|remove)\n"
    text += yaml.safe_dump(body, sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
