"""``campustwin fit-lease``: the largest size of a lease the campuses can safely sell (twin.fit_lease)."""

from __future__ import annotations

import argparse
import math
import sys

EXIT_USER_ERROR = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-lease", help="largest safe size of a lease, per site and start")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--lease", required=True, help="name of the lease in the scenario")
    p.add_argument("--sla", type=float, default=0.99, help="availability the lease must reach (default 0.99)")
    p.add_argument("--confidence", type=float, default=0.95, help="share of replications that must reach it")
    p.add_argument("--max-internal-slowdown", type=float, default=0.05,
                   help="largest rise of internal training turnaround, and of the share of internal "
                   "inference GPU-hours left short (default 0.05 = 5 %%)")  # fmt: skip
    p.add_argument("--replications", type=int, default=4, help="seeds per size tried (default 4)")
    p.add_argument(
        "--start-days", default=None, help="start days to try, e.g. 0,30,60 (default: the lease's)"
    )
    p.set_defaults(func=cmd_fit)


MAX_START_DAYS = 24


def cmd_fit(args: argparse.Namespace) -> int:
    from twin.fit_lease import Targets, fit_lease
    from twin.scenario import load_scenario

    try:
        targets = Targets(args.sla, args.confidence, args.max_internal_slowdown, args.replications)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USER_ERROR
    try:  # given empty, it is refused: read as the default, it fitted a day no one asked for
        starts = [float(x) for x in args.start_days.split(",")] if args.start_days is not None else None
    except ValueError:
        print(f"--start-days: numbers separated by commas, got {args.start_days!r}", file=sys.stderr)
        return EXIT_USER_ERROR
    if starts is not None:
        starts = list(dict.fromkeys(starts))  # a day given twice is fitted once
        if len(starts) > MAX_START_DAYS:
            print(
                f"--start-days: {len(starts)} days; at most {MAX_START_DAYS} (each is a search of runs)",
                file=sys.stderr,
            )
            return EXIT_USER_ERROR
    scenario = load_scenario(args.scenario)
    days = scenario.spec.days
    bad = [x for x in starts or [] if not (math.isfinite(x) and 0 <= x < days)]
    if bad:
        print(
            f"--start-days: {bad[0]:g} is outside the scenario's {days:g} days; give days from 0 to below {days:g}",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    try:
        offers = fit_lease(
            scenario, args.lease, targets, starts, progress=(lambda m, _share: print(f"  trying {m}", file=sys.stderr)) if sys.stderr.isatty() else None,
        )  # fmt: skip
    except ValueError as exc:
        print(f"--lease: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    # The lease's own margin: what displacing internal work costs is the turnaround it binds on.
    print(f"{'site':<14}{'start day':>10}{'max GPUs':>10}{'revenue $':>16}{'product margin $':>18}  binds")
    for o in offers:
        print(
            f"{o.site:<14}{o.start_day:>10g}{o.max_gpus:>10,}{o.revenue_usd:>16,.0f}{o.margin_usd:>18,.0f}  {o.binds}"
        )
        for check in o.checked:  # the measurements behind the verdict
            print(f"{'':<14}  tried {check.told()}")
    print(
        "product margin = the lease's revenue - SLA credits - its energy - its depreciation; the value of "
        "internal work it displaces is not taken off (simulate's sales margin does), its cost shows as "
        "the internal turnaround above"
    )
    return 0
