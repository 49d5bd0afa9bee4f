"""Panel's login and logout pages, checking passwords against a :class:`app.auth.UserStore`.

Panel's ``BasicAuthProvider`` serves ``/login`` and ``/logout`` and keeps the signed-in name in
a cookie signed with the server's cookie secret; only how a password is checked changes here
(argon2 hashes, lockout), and the pages are our own templates, which load nothing from the
internet (Panel's fetch its logo from a CDN).
"""

from __future__ import annotations

import asyncio
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

            def get(self) -> None:
                # A fixed message: the link's own ?error= text is never shown to the person.
                failed = bool(self.get_argument("error", ""))
                wanted = safe_next(self.get_argument("next", ""))
                if wanted:
                    self.set_cookie("next_url", wanted, httponly=True)
                self.write(self._login_template.render(
                    login_endpoint=self._login_endpoint, PANEL_CDN="",
                    errormessage="Invalid username or password!" if failed else "",
                ))  # fmt: skip

            async def post(self) -> None:
                username = self.get_argument("username", "")
                password = self.get_argument("password", "")
                # argon2 takes ~0.1 s and 64 MiB: off the event loop every session shares.
                ok = await asyncio.to_thread(store.verify, username, password, self.request.remote_ip or "")
                if not ok:
                    self.redirect(self.request.path + "?error=1")
                    return
                self.set_current_user(username)
                self.redirect(safe_next(self.get_cookie("next_url", "")) or "/")

        return UsersLoginHandler


def safe_next(url: str) -> str:
    """``url`` if it is a path on this server (``/page?query``), else "" (no open redirect).

    ``//host`` and ``/\\host`` are other hosts to a browser, so only a single leading slash passes.
    """
    if not url.startswith("/") or url.startswith(("//", "/\\")) or any(c in url for c in "\\\r\n\t "):
        return ""
    return url
