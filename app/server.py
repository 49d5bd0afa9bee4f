"""Serving the console: the Panel server, sign-in when asked for, loopback only when not.

Nothing is fetched from the internet: Panel and Bokeh serve their own scripts from this server
(``resources='server'``), and the pages (the login page too) use no web fonts or remote images.

Without ``--users`` nobody signs in, so the server listens on this machine only (127.0.0.1) and
refuses any other address. With ``--users FILE`` each person signs in (argon2 password hashes,
:mod:`app.auth`) or, with ``--oauth-provider``, through Panel's OAuth/OIDC providers; the users
file gives each a role (:mod:`app.roles`), enforced on the server at every action.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

SAMPLE_SITES = Path(__file__).resolve().parent.parent / "sample_sites"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    sites_dir: str | None = None,
    workers: int = 1,
    data_dir: str = ".campustwin",
    cache: bool = True,
    users_file: str | None = None,
    oauth_provider: str | None = None,
    oauth_key: str | None = None,
) -> int:
    """Serve the console until interrupted.

    Runs go to ``workers`` processes. ``data_dir`` holds the scenario library (saved scenarios
    and runs), the cookie secret and, unless ``cache`` is off, the cache of run results.
    """
    if users_file is None and address not in LOOPBACK:
        print(
            f"--address {address}: without sign-in the console serves this machine only; "
            "give --users FILE (see 'campustwin users add') to share it",
            file=sys.stderr,
        )
        return 2
    if oauth_provider and users_file is None:
        print("--oauth-provider: give --users FILE too; it says which role each user has", file=sys.stderr)
        return 2
    if oauth_provider:
        from panel.auth import AUTH_PROVIDERS

        if oauth_provider not in AUTH_PROVIDERS:
            print(
                f"--oauth-provider {oauth_provider[:40]!r}: not a provider Panel knows; one of "
                f"{', '.join(sorted(AUTH_PROVIDERS))}",
                file=sys.stderr,
            )
            return 2
    if sites_dir and not Path(sites_dir).is_dir():  # a console of no sites would start, and show nothing
        print(f"--sites {sites_dir}: not a folder; give the folder of your site files", file=sys.stderr)
        return 2
    from app.auth import UserStore
    from app.library import Library, LibraryError

    store = UserStore(users_file) if users_file else None  # a bad file: ProblemList, exit 2
    try:
        library = Library(data_dir)  # opening it marks the runs a killed server left as interrupted
    except LibraryError as exc:
        print(f"--data: {exc}", file=sys.stderr)
        return 2
    interrupted = len(library.interrupted)
    if interrupted:
        print(f"library: {interrupted} runs were interrupted (listed on the Runs page)", file=sys.stderr)

    import holoviews as hv
    import panel as pn

    from app.context import ConsoleContext
    from app.runs import RunPool
    from app.shell import PAGES, build_page
    from app.views.capacity import warm_rasterize

    folder = Path(sites_dir) if sites_dir else SAMPLE_SITES
    pn.config.inline = False
    hv.extension("bokeh", logo=False)
    pool = RunPool(workers=workers, cache_dir=Path(data_dir) / "cache" if cache else None)
    pool.warm(SAMPLE_SITES / "scenarios" / "demo_baseline.yaml")
    threading.Thread(target=warm_rasterize, name="warm-datashader", daemon=True).start()
    context = ConsoleContext(folder, pool, library, store)
    routes = {"/": lambda: build_page(context, "whatif")}
    routes.update({f"/{page}": (lambda page=page: build_page(context, page)) for page in PAGES})
    options = _sign_in_options(store, Path(data_dir), oauth_provider, oauth_key)
    print(f"campustwin console on http://{address}:{port}/  (sites from {folder})", file=sys.stderr)
    if store is None:
        print("sign-in is off: only this machine can connect (--users FILE turns it on)", file=sys.stderr)
    _quiet_closed_tabs()
    _quiet_fixed_frames()
    try:
        server = _start(pn, routes, port, address, show, options)
    except OSError as exc:
        pool.shutdown()
        print(f"--port {port} --address {address}: cannot listen there ({exc.strerror or exc}); "
              "pick a free port or an address of this machine", file=sys.stderr)  # fmt: skip
        return 2
    # A service manager stops the console with SIGTERM: stop the loop as Ctrl-C does, so the run
    # workers are shut down below rather than left to the resource tracker (which warned of
    # leaked semaphores). Tornado's add_callback is safe in a signal handler.
    loop = server.io_loop
    signal.signal(signal.SIGTERM, lambda *_: loop.add_callback(loop.stop))
    try:
        server.io_loop.start()
    finally:
        pool.shutdown(wait_s=6.0)  # within a service manager's stop timeout (10 s in the tests)
    return 0


def _quiet_closed_tabs() -> None:
    """Drop asyncio's "Task exception was never retrieved" for a write to a tab that just closed.

    Bokeh pushes a change to a session whose browser tab has gone (the user closed it between
    the change and the push); tornado's write then fails with WebSocketClosedError in a task no
    one awaits, and asyncio logs a traceback for it. Nothing is wrong and nothing can be done:
    a server log full of such tracebacks would hide the real ones.
    """
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    def keep(record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, (WebSocketClosedError, StreamClosedError))

    logging.getLogger("asyncio").addFilter(keep)


def _quiet_fixed_frames() -> None:
    """Silence Bokeh's W-1005 for figures sized by their frame.

    The Site page sizes a hall's figure by ``frame_width``/``frame_height`` (one scale for both
    axes) and leaves the outer width to Bokeh; Bokeh's check wants the outer size and warned on
    every load, a line of noise in the log for a figure that lays out as intended.
    """
    from bokeh.core.validation import silence
    from bokeh.core.validation.warnings import FIXED_SIZING_MODE

    silence(FIXED_SIZING_MODE, True)


def _start(pn, routes: dict, port: int, address: str, show: bool, options: dict):
    server = pn.serve(
        routes,
        port=port,
        address=address,
        show=show,
        title="campustwin",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"],
        num_procs=1,
        start=False,
        print=False,
        websocket_max_message_size=4 * 1024 * 1024,  # uploads are checked at 1 MiB; this caps any message
        # A closed tab's session (its document, views and results) is dropped ~10 s later, not
        # Bokeh's default ~30 s: under many short visits, memory follows the open tabs closely.
        check_unused_sessions_milliseconds=5_000,
        unused_session_lifetime_milliseconds=5_000,
        **options,
    )
    server.start()
    return server


def _sign_in_options(store, data_dir: Path, oauth_provider: str | None, oauth_key: str | None) -> dict:
    """``pn.serve`` options for sign-in: an auth provider, the cookie secret, who is authorised."""
    if store is None:
        return {}
    import panel as pn

    # Signed in means named in the users file now: removing someone locks them out at once.
    pn.config.authorize_callback = lambda user_info, _path: (
        store.role_of((user_info or {}).get("user")) is not None
    )
    options: dict = {"cookie_secret": cookie_secret(data_dir)}
    if oauth_provider:
        options.update(
            oauth_provider=oauth_provider,
            oauth_key=oauth_key or os.environ.get("CAMPUSTWIN_OAUTH_KEY"),
            oauth_secret=os.environ.get("CAMPUSTWIN_OAUTH_SECRET"),  # never on a command line
            oauth_extra_params=_json_env("CAMPUSTWIN_OAUTH_EXTRA"),
            oauth_encryption_key=os.environ.get("CAMPUSTWIN_OAUTH_ENCRYPTION_KEY"),
        )
    else:
        from app.login import UsersAuthProvider

        options["auth_provider"] = UsersAuthProvider(store)
    return options


def cookie_secret(data_dir: Path) -> str:
    """The secret that signs sign-in cookies: ``CAMPUSTWIN_COOKIE_SECRET``, or one kept in ``data_dir``.

    Kept in a file readable by its owner only, so a restart does not sign everyone out.
    """
    if os.environ.get("CAMPUSTWIN_COOKIE_SECRET"):
        return os.environ["CAMPUSTWIN_COOKIE_SECRET"]
    path = data_dir / "cookie_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _json_env(name: str) -> dict:
    from twin.errors import Problem, ProblemList

    try:
        value = json.loads(os.environ.get(name) or "{}")
    except ValueError as exc:
        raise ProblemList(
            [Problem(name, 0, "", f'not JSON ({exc}); give an object such as {{"key": "value"}}')]
        ) from None
    if not isinstance(value, dict):
        raise ProblemList([Problem(name, 0, "", 'give a JSON object such as {"key": "value"}')])
    return value
