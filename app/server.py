"""Serving the console: the Panel server, bound to loopback unless told otherwise.

Nothing is fetched from the internet: Panel and Bokeh serve their own scripts from this server
(``resources='server'``), and the page uses no web fonts or remote images.
"""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE_SITES = Path(__file__).resolve().parent.parent / "sample_sites"


def serve(
    port: int = 5006, address: str = "127.0.0.1", show: bool = False, sites_dir: str | None = None
) -> int:
    import panel as pn

    from app.shell import build_app

    folder = Path(sites_dir) if sites_dir else SAMPLE_SITES
    pn.config.inline = False
    print(f"campustwin console on http://{address}:{port}/  (sites from {folder})", file=sys.stderr)
    if address not in ("127.0.0.1", "localhost", "::1"):
        print("warning: serving beyond this machine; sign-in is not configured", file=sys.stderr)
    pn.serve(
        {"/": lambda: build_app(folder)},
        port=port,
        address=address,
        show=show,
        title="campustwin",
        websocket_origin=[f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"],
        num_procs=1,
        start=True,
        print=False,
    )
    return 0
