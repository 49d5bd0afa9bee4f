"""Serving the console: the Panel server, bound to loopback unless told otherwise.

Nothing is fetched from the internet: Panel and Bokeh serve their own scripts from this server
(``resources='server'``), and the page uses no web fonts or remote images.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

SAMPLE_SITES = Path(__file__).resolve().parent.parent / "sample_sites"


def serve(
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    sites_dir: str | None = None,
    workers: int = 1,
    data_dir: str = ".campustwin",
    cache: bool = True,
) -> int:
    """Serve the console until interrupted.

    Runs go to ``workers`` processes. ``data_dir`` holds the scenario library (saved scenarios
    and runs) and, unless ``cache`` is off, the cache of run results.
    """
    import holoviews as hv
    import panel as pn

    from app.context import ConsoleContext
    from app.runs import RunPool
    from app.shell import PAGES, build_page

    folder = Path(sites_dir) if sites_dir else SAMPLE_SITES
    pn.config.inline = False
    hv.extension("bokeh", logo=False)
    from app.library import Library, LibraryError

    try:
        library = Library(data_dir)  # opening it marks the runs a killed server left as interrupted
    except LibraryError as exc:
        print(f"--data: {exc}", file=sys.stderr)
        return 2
    if library.interrupted:
        print(
            f"library: {len(library.interrupted)} runs were interrupted (listed on the Runs page)",
            file=sys.stderr,
        )
    pool = RunPool(workers=workers, cache_dir=Path(data_dir) / "cache" if cache else None)
    pool.warm()
    from app.views.capacity import warm_rasterize

    threading.Thread(target=warm_rasterize, name="warm-datashader", daemon=True).start()
    context = ConsoleContext(folder, pool, library)
    routes = {"/": lambda: build_page(context, "whatif")}
    routes.update({f"/{page}": (lambda page=page: build_page(context, page)) for page in PAGES})
    print(f"campustwin console on http://{address}:{port}/  (sites from {folder})", file=sys.stderr)
    if address not in ("127.0.0.1", "localhost", "::1"):
        print("warning: serving beyond this machine; sign-in is not configured", file=sys.stderr)
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
    )
    server.start()
    try:
        server.io_loop.start()
    finally:
        pool.shutdown()
    return 0
