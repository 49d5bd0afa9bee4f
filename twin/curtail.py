"""Grid curtailment: a site must shed power for some hours.

With the physics model on, a curtailment lowers the site's supply to its draw at the start minus
the megawatts asked, and :mod:`twin.plant` keeps the site under that limit hour by hour (capping
GPUs before anything else is taken). With physics off, the megawatts are shed once, at the
start, through :func:`twin.shedding.shed` without its capping and admission steps, converting
facility power to IT power with the scenario's constant PUE.
"""

from __future__ import annotations

from twin.shedding import shed


def curtail(engine, event):
    f = engine.fleet
    site = f.site_index(event.site)
    mw = event.mw or 0.0
    cause = f"grid curtailment of {mw:g} MW for {event.hours:g} h"
    if engine.plant is not None:
        engine.plant.curtail(engine, site, mw * 1000.0, cause)
        yield engine.env.timeout(event.hours)
        engine.plant.curtail(engine, site, -mw * 1000.0, cause)
        engine.note(site, "curtailment_end", event.site, "supply limit lifted")
        return
    shed(engine, site, f.server_site == site, mw * 1000.0 / engine.pue, event.hours, "curtailment", cause)
    yield engine.env.timeout(event.hours)
    engine.note(site, "curtailment_end", event.site, "servers back")
