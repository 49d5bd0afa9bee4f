"""``campustwin plan``: a site's floor plan as SVG, PDF, DXF, a CSV inventory or a NetBox bundle.

With ``--scenario`` the racks are coloured from a run of the twin: tenants as placed on the
scenario's last day (``--day`` runs it to an earlier day instead), utilisation as the mean over
the days run. Every problem a user can cause ends with exit code 2 and a line that names it.
"""

from __future__ import annotations

import argparse
import errno
import math
import sys
from pathlib import Path

EXIT_USER_ERROR = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    from layouts.kinds import COLOR_BY, FORMATS

    p = sub.add_parser("plan", help="floor plan of a site: svg, pdf, dxf, csv or a NetBox bundle")
    p.add_argument("site", metavar="SITE")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("--out", required=True, help="file to write (netbox: a folder, or a .zip)")
    p.add_argument(
        "--hall", default=None, help="one hall, named as the twin names it (e.g. A/H1 on the demo site)"
    )
    p.add_argument("--color-by", default="tenant", choices=list(COLOR_BY))
    p.add_argument("--scenario", default=None, help="colour racks from a run of this scenario")
    p.add_argument("--day", type=float, default=None, help="with --scenario: run to this day")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from layouts.export import ExportError, export
    from twin.campus import build_campus
    from twin.load import load_site

    if not args.out.strip():
        print("--out: empty; name the file to write, e.g. --out plan.svg", file=sys.stderr)
        return EXIT_USER_ERROR
    out = Path(args.out)
    try:  # before the run: a refusal after it would waste the wait
        problem = _out_problem(args.format, out) or _overwrites_input(out, args.site, args.scenario)
    except OSError as exc:  # a folder on the way that cannot be looked into
        problem = cannot_write(out, exc)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USER_ERROR
    if args.day is not None and args.scenario is None:
        print("--day: needs --scenario (the run that places the tenants)", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.color_by == "utilisation" and args.scenario is None:  # else every rack would be grey
        print("--color-by utilisation: needs --scenario (the run it is measured in)", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.day is not None and not (math.isfinite(args.day) and args.day > 0):
        print(f"--day: a day after the scenario's start (more than 0), got {args.day:g}", file=sys.stderr)
        return EXIT_USER_ERROR
    campus = build_campus(load_site(args.site))
    results = _run(args, campus.name) if args.scenario else None
    bar = _bar(f"{args.format} {campus.name}")

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        path = export(campus, args.format, out, args.hall, args.color_by, results, progress)
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        print(cannot_write(out, exc), file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _out_problem(fmt: str, out: Path) -> str | None:
    """Why ``--out`` cannot take a plan of ``fmt``, naming the fix; None when it can."""
    from layouts.kinds import FORMATS
    from layouts.netbox import bundle_problem

    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        return f"--out {out}: {blocked} is a file, not a folder; write somewhere else"
    suffix = FORMATS[fmt]
    if suffix and out.suffix.lower() != suffix:
        return f"--out {out}: a {fmt} file should end in {suffix}; e.g. --out {out.with_suffix(suffix)}"
    if fmt == "netbox":
        return bundle_problem(out)
    if out.is_dir():
        return f"--out {out}: is a folder; give a file name ending in {suffix}"
    return None


def _overwrites_input(out: Path, *inputs: str | None) -> str | None:
    """A plan written over the site or scenario file it is drawn from would destroy it."""
    for given in inputs:
        if given and out.resolve() == Path(given).resolve():
            return f"--out {out}: is the input file {given}; write the plan to another name"
    return None


def cannot_write(out: Path, exc: OSError) -> str:
    """The line for an --out the system refuses (no such folder under /proc, read-only, full disk)."""
    if exc.errno == errno.ENAMETOOLONG:
        return f"--out {out}: cannot write ({exc.strerror}); a file name holds at most 255 bytes, give a shorter one"
    if exc.errno == errno.ENOSPC:
        return f"--out {out}: cannot write ({exc.strerror}); free some space or give a path on another disk"
    return f"--out {out}: cannot write ({exc.strerror or exc}); give a path in a folder you can write to"


def _bar(desc: str):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=1, desc=desc, unit="page", file=sys.stderr, leave=False)


def _run(args: argparse.Namespace, campus_name: str):
    """The scenario's run, to ``--day`` if given; ProblemList (exit 2) when it cannot be run here."""
    from twin.errors import Problem, ProblemList
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    scenario = load_scenario(args.scenario)
    if args.day is not None:  # an earlier day of the run, never a longer run than the scenario's
        last = scenario.spec.days
        if args.day > last:
            raise ProblemList(
                [
                    Problem(
                        "--day",
                        0,
                        "",
                        f"{args.day:g} is after the scenario's last day, {last:g}; give a day up to "
                        f"{last:g}, or leave --day out for the last",
                    )
                ]  # fmt: skip
            )
        scenario = load_scenario(args.scenario, {"days": args.day}, flag="--day")
    if campus_name not in [s.spec.name for s in scenario.sites]:
        names = ", ".join(s.spec.name for s in scenario.sites)
        raise ProblemList(
            [
                Problem(
                    args.scenario,
                    0,
                    "sites",
                    f"runs {names}, not {campus_name}; give a scenario of this site",
                )
            ]
        )
    bar = _bar(f"running {scenario.spec.name}")
    try:
        return simulate(
            scenario, (lambda f: (setattr(bar, "n", round(100 * f)), bar.refresh())) if bar else None
        )
    finally:
        if bar is not None:
            bar.close()
