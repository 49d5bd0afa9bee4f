"""The ``campustwin`` command.

Every error a user can cause ends with exit code 2 and one line per problem, never a traceback:
``FILE:LINE: dotted.path: message``. Output meant for machines (``--json``) goes to stdout alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.cli_report import print_kpis
from twin.errors import Problem, ProblemList

EXIT_USER_ERROR = 2


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        print(str(p), file=sys.stderr)


def _print_notes(notes: Sequence[Problem]) -> None:
    """What is valid but probably not meant (a lease after the run's end); the command goes on."""
    for p in notes:
        print(f"note: {p}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from twin.load import validate_file

    failed = False
    for path in args.files:
        notes: list[Problem] = []
        try:
            kind = validate_file(path, notes)
        except ProblemList as exc:
            _print_problems(exc.problems)
            failed = True
        else:
            if not args.quiet:
                print(f"{path}: valid {kind}")
            _print_notes(notes)
    return EXIT_USER_ERROR if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    from twin.campus import build_campus
    from twin.inventory import inventory
    from twin.load import load_site

    inv = inventory(build_campus(load_site(args.site)))
    if args.json:
        print(json.dumps(inv, indent=2))
        return 0
    print(f"{inv['name']}  ({inv['file']})")
    rows = [
        ("buildings", inv["buildings"]),
        ("halls", inv["halls"]),
        ("pods", inv["pods"]),
        ("racks", f"{inv['racks']:,}"),
        ("GPUs", f"{inv['gpus']:,}"),
        *((f"  {k}", f"{v:,}") for k, v in inv["gpus_by_type"].items()),
        ("IT MW (racks at full draw)", f"{inv['it_mw']:,.1f}"),
        ("IT capacity MW (halls)", f"{inv['it_capacity_mw']:,.1f}"),
        ("facility MW (design)", f"{inv['facility_mw']:,.1f}"),
        ("firm supply MW", f"{inv['firm_supply_mw']:,.1f}"),
        ("switches", f"{inv['switches']:,}"),
        *((f"  {k}", f"{v:,}") for k, v in inv["switches_by_tier"].items()),
        ("links (bundles / physical)", f"{inv['links']:,} / {inv['physical_links']:,}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.kind == "site":
        from twin.site import SiteSpec as model
    elif args.kind == "catalog":
        from twin.catalog import Catalog as model
    else:
        from twin.scenario_spec import ScenarioSpec as model
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from twin.safepath import folders_to_make, remove_if_empty
    from twin.scenario import load_scenario

    overrides = {}
    if args.days is not None:
        overrides["days"] = args.days
    if args.seed is not None:
        overrides["seed"] = args.seed
    scenario = load_scenario(args.scenario, overrides)
    _print_notes(scenario.notes)
    made = folders_to_make(args.out) if args.out is not None else []
    try:
        folder, saving, bar, results = _checked_run(args, scenario, overrides)
    except BaseException:  # a refusal, Ctrl-C: the folders made for --out would be left empty
        remove_if_empty(made)
        raise
    if bar is not None:
        bar.close()
    failed_to_write = None
    if folder is not None:
        try:
            paths = results.write(folder)
            if not args.json:
                print(f"wrote {len(paths)} files to {folder}", file=sys.stderr)
        except OSError as exc:  # a disk filled during the run: the KPIs are still printed below
            failed_to_write = (
                f"{folder}: cannot write the results ({exc.strerror or exc}); nothing there was changed. "
                "Free some space or give another --out; the KPIs follow"
            )
            print(failed_to_write, file=sys.stderr)
    if saving is not None:
        from sqlalchemy.exc import SQLAlchemyError

        from app.library_refusals import change_refused

        library, run_id = saving
        try:
            library.finish_run(run_id, results)
            print(f"saved run {run_id[:12]} of {args.save!r} in {library.folder}", file=sys.stderr)
        except (OSError, SQLAlchemyError) as exc:  # read-only, locked or full: the KPIs still follow
            failed_to_write = f"--save: {change_refused(library.folder, exc)}"
            print(failed_to_write, file=sys.stderr)
    if args.json:
        print(json.dumps(results.kpis, indent=2, default=str))
    else:
        print_kpis(results.kpis)
    return 2 if failed_to_write else 0


def _checked_run(args: argparse.Namespace, scenario, overrides: dict) -> tuple:
    """Check --out and --save before a long run, not after it; then run, with a bar on a terminal."""
    from twin.simulate import simulate

    folder = None
    if args.out is not None:
        from twin.results import Results
        from twin.safepath import output_folder, writable_for

        folder = writable_for(output_folder(args.out), Results.file_names())
    saving = _start_saving(args, overrides, scenario.spec.seed) if args.save is not None else None
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm

        bar = tqdm(total=100, desc=scenario.spec.name, unit="%", file=sys.stderr, leave=False)

    def progress(fraction: float) -> None:
        bar.n = round(fraction * 100)
        bar.refresh()

    return folder, saving, bar, simulate(scenario, progress if bar else None)


def _start_saving(args: argparse.Namespace, overrides: dict, seed: int):
    """Save the scenario (as run: with --days/--seed applied) and record its run as started.

    The run is recorded before it starts, so a run killed midway is listed as interrupted.
    """

    import yaml
    from sqlalchemy.exc import SQLAlchemyError

    from app.library import Library, LibraryError
    from app.library_refusals import change_refused

    path = Path(args.scenario)
    text = path.read_text(encoding="utf-8")
    if overrides:  # the file was validated above, so it parses; the saved text is what ran
        text = yaml.safe_dump({**yaml.safe_load(text), **overrides}, sort_keys=False, allow_unicode=True)
    try:
        library = Library(args.data)
        library.save_scenario(args.save, text, path.resolve().parent)
        return library, library.start_run(args.save, seed)
    except LibraryError as exc:
        raise ProblemList([Problem("--save", 0, "", str(exc))]) from None
    except (OSError, SQLAlchemyError) as exc:  # read-only or locked: said before the run, not after
        raise ProblemList([Problem("--save", 0, "", change_refused(Path(args.data), exc))]) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from app.server import serve

    if not 0 < args.port < 65536:
        print(f"--port: 1 to 65535, got {args.port}", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.workers < 1:
        print(f"--workers: must be at least 1, got {args.workers}", file=sys.stderr)
        return EXIT_USER_ERROR
    return serve(
        port=args.port,
        address=args.address,
        show=args.show,
        sites_dir=args.sites,
        workers=args.workers,
        data_dir=args.data,
        cache=not args.no_cache,
        users_file=args.users,
        oauth_provider=args.oauth_provider,
        oauth_key=args.oauth_key,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campustwin",
        description="Digital twin and console for leasing AI data-center capacity.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check site, scenario and catalog files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("info", help="inventory of a site")
    p.add_argument("site", metavar="SITE")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("schema", help="JSON Schema of a file kind, for editors")
    p.add_argument("kind", choices=["site", "scenario", "catalog"])
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("simulate", help="run a scenario")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--days", type=float, default=None, help="override the horizon")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--out", default=None, help="folder for Parquet + JSON results")
    p.add_argument("--json", action="store_true", help="print the KPIs as one JSON object")
    p.add_argument(
        "--save", metavar="NAME", default=None, help="save the scenario and this run in the library"
    )
    p.add_argument("--data", default=".campustwin", help="folder of the library (default .campustwin)")
    p.set_defaults(func=cmd_simulate)

    from app.cli_fit import add_parser as add_fit
    from app.cli_library import add_parser as add_library
    from app.cli_plan import add_parser as add_plan
    from app.cli_users import add_parser as add_users
    from app.sweep import add_parser as add_sweep

    add_plan(sub)
    add_sweep(sub)
    add_fit(sub)
    add_library(sub)
    add_users(sub)

    p = sub.add_parser("serve", help="serve the console")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--sites", default=None, help="folder of site files (default: sample_sites)")
    p.add_argument("--show", action="store_true", help="open a browser")
    p.add_argument("--workers", type=int, default=1, help="processes that run scenarios (default 1)")
    p.add_argument(
        "--data",
        default=".campustwin",
        help="folder of the scenario library and the run cache (default .campustwin)",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="keep run results in memory only (the library still saves)"
    )
    p.add_argument(
        "--users", default=None, metavar="FILE", help="turn on sign-in: users, roles and password hashes"
    )
    p.add_argument("--oauth-provider", default=None, help="sign in through Panel's OAuth/OIDC provider of this name "
                   "(generic, github, google, azure, okta, ...); secret in CAMPUSTWIN_OAUTH_SECRET")  # fmt: skip
    p.add_argument("--oauth-key", default=None, help="the OAuth client id (or CAMPUSTWIN_OAUTH_KEY)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ProblemList as exc:
        _print_problems(exc.problems)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
