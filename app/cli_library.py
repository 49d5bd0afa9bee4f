"""``campustwin library``: the scenario library from a terminal (list, runs, show, rename, delete, export).

The same library the console's Runs page shows (:mod:`app.library`), in ``--data`` (default
``.campustwin``). ``campustwin simulate SCENARIO --save NAME`` adds to it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

EXIT_USER_ERROR = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("library", help="saved scenarios and their runs")
    p.add_argument("--data", default=".campustwin", help="folder of the library (default .campustwin)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    acts.add_parser("list", help="saved scenarios and how many runs each has")
    q = acts.add_parser("runs", help="runs, newest last, with their stamps and status")
    q.add_argument("name", nargs="?", help="only the runs of this scenario")
    q = acts.add_parser("show", help="print a scenario's YAML")
    q.add_argument("name")
    q = acts.add_parser("rename", help="rename a scenario")
    q.add_argument("old")
    q.add_argument("new")
    q = acts.add_parser("delete", help="delete a scenario and its runs")
    q.add_argument("name")
    q = acts.add_parser("export", help="copy a run's Parquet + JSON results to a folder")
    q.add_argument("run", help="run id (its first 8 characters are enough)")
    q.add_argument("--out", required=True, help="folder to create")
    p.set_defaults(func=cmd_library)


def cmd_library(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from app.library import Library, LibraryError
    from app.library_refusals import change_refused

    data = Path(args.data)
    # Every action reads a library: a folder without one (missing, or someone's own) is not made one.
    if "://" not in args.data and (
        not data.exists() or (data.is_dir() and not (data / "library.sqlite").exists())
    ):
        print(f"library: {args.data}: no library there; 'simulate --save' or the console makes one "
              "(--data names its folder)", file=sys.stderr)  # fmt: skip
        return EXIT_USER_ERROR
    try:
        library = Library(args.data)
        return _act(library, args)
    except LibraryError as exc:
        print(f"library: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `library show | head`: the reader left; main() ends it quietly
        raise
    except (OSError, SQLAlchemyError) as exc:  # a change refused: read-only, locked, a full disk
        print(f"library: {change_refused(data, exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


def _act(library, args: argparse.Namespace) -> int:
    from app.library import LibraryError

    if args.action == "list":
        counts: dict[str, int] = {}
        for run in library.runs():
            counts[run["name"]] = counts.get(run["name"], 0) + 1
        rows = [{**s, "runs": counts.get(s["name"], 0)} for s in library.scenarios()]
        if args.json:
            print(json.dumps(rows, indent=2))
        for s in rows if not args.json else ():
            print(
                f"{s['name']!s:<40} {s['runs']:>5} {'run ' if s['runs'] == 1 else 'runs'}  saved {s['saved_at']}  {s['hash'][:12]}"
            )
        if not rows and not args.json:
            print("(the library is empty)", file=sys.stderr)
    elif args.action == "runs":
        if args.name is not None:
            library.scenario(args.name)  # an unknown name is said (exit 2), not an empty list
        rows = library.runs(args.name)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        for r in rows:
            print(
                f"{r['id'][:12]}  {r['status']:<11} seed {r['seed']:<6} {r['started_at']}  {r['code_version']}  {r['name']}"
            )
        interrupted = sum(r["status"] == "interrupted" for r in rows)
        if interrupted:
            print(
                f"{interrupted} interrupted: their process stopped while running or saving them",
                file=sys.stderr,
            )
    elif args.action == "show":
        found = library.scenario(args.name)
        print(found["text"], end="")
        # stdout is the text as saved; where its site paths lead is told aside, for whoever saves
        # it to a file elsewhere and runs it
        print(f"# its site paths are relative to {found['folder']}", file=sys.stderr)
    elif args.action == "rename":
        library.rename(args.old, args.new)
    elif args.action == "delete":
        library.delete(args.name)
    elif args.action == "export":
        from twin.safepath import output_folder

        source = library.run_folder(args.run)
        if Path(args.out).resolve().is_relative_to(library.folder.resolve()):
            raise LibraryError(f"--out {args.out}: inside the library's folder; give a folder outside it")
        target = output_folder(args.out)
        try:
            taken = any(target.iterdir())
        except OSError as exc:  # the user's folder, not the library
            raise LibraryError(
                f"--out {args.out}: cannot read it ({exc.strerror or exc}); give another folder"
            ) from None
        if taken:  # results of another run would mix with (or be replaced by) these
            raise LibraryError(f"--out {args.out}: holds files already; give a new or empty folder")
        try:
            shutil.copytree(source, target, dirs_exist_ok=True)
        except (OSError, shutil.Error) as exc:
            # shutil.Error lists every file that failed: say the first reason, and leave no half copy
            # (the folder was empty, so everything in it now is this copy's).
            listed = exc.args[0] if isinstance(exc, shutil.Error) and exc.args else None
            first = listed[0][2] if isinstance(listed, list) and listed and len(listed[0]) == 3 else exc
            for item in list(target.iterdir()):
                if item.is_dir():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
            raise LibraryError(
                f"--out {args.out}: cannot copy the run there ({str(first)[:160]}); nothing was left there; "
                "free some space or give another writable folder"
            ) from None
        print(f"copied run {source.name} to {target}", file=sys.stderr)
    return 0
