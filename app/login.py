"""Panel's login and logout pages, checking passwords against a :class:`app.auth.UserStore`.

Panel's ``BasicAuthProvider`` serves ``/login`` and ``/logout`` and keeps the signed-in name in
a cookie signed with the server's cookie secret; only how a password is checked changes here
(argon2 hashes, lockout), and the pages are our own templates, which load nothing from the
internet (Panel's fetch its logo from a CDN).
"""

from __future__ import annotations

from pathlib import Path

from panel.auth import BasicAuthProvider, BasicLoginHandler

from app.auth import UserStore

TEMPLATES = Path(__file__).resolve().parent / "templates"


class UsersAuthProvider(BasicAuthProvider):
    """Sign-in against a users file."""

    def __init__(self, store: UserStore):
        self.store = store  # before super(): Bokeh's provider reads login_handler while validating
        super().__init__(
            login_template=str(TEMPLATES / "login.html"),
            logout_template=str(TEMPLATES / "logout.html"),
            error_template=None,
        )

    @property
    def login_handler(self) -> type[BasicLoginHandler]:
        store = self.store

        class UsersLoginHandler(BasicLoginHandler):
            _login_endpoint = self._login_endpoint
            _login_template = self._login_template

            def _validate(self, username: str, password: str) -> bool:
                return store.verify(username, password)

        return UsersLoginHandler
