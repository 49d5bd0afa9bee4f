"""Preloaded by a local sweep cluster's fork server: import what a worker needs, once.

A local cluster's workers are forked from one server process that imported Dask and the twin
and ran a day of the demo scenario, so the twin's compiled loops are loaded. Each worker then
starts in a fraction of a second instead of importing everything again on a machine whose cores
are busy starting the rest of the sweep. Importing this module has that side effect by design:
it exists only to be named in ``multiprocessing``'s fork-server preload list.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import distributed  # noqa: F401  (the worker's own imports, done once in the server)

from twin.scenario import load_scenario
from twin.simulate import simulate

DEMO = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios" / "demo_baseline.yaml"


def warm() -> None:
    """A day of the demo site, when the samples are there (a source checkout)."""
    if not DEMO.is_file():
        return
    # Warming is only a head start: should it fail, the workers still work without it.
    with contextlib.suppress(Exception):
        simulate(load_scenario(str(DEMO), {"days": 1}))


# Ctrl-C at a terminal reaches every process of the sweep. The sweep itself stops the cluster
# and says "interrupted"; the server and the workers forked from it (which inherit this) leave
# when it does, without each printing a traceback.
signal.signal(signal.SIGINT, signal.SIG_IGN)
warm()
