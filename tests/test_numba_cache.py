"""Where the compiled kernels' cache goes (twin/__init__.py): beside the source when it can be
written, else a folder private to the user, never one another user could have planted."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import twin

ROOT = Path(__file__).resolve().parent.parent


def test_a_fresh_clone_keeps_the_cache_beside_the_source(tmp_path: Path) -> None:
    """With no __pycache__ yet (a fresh clone), the cache went to the temporary folder."""
    shutil.copytree(ROOT / "twin", tmp_path / "twin", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    code = "import os, twin; print(os.environ.get('NUMBA_CACHE_DIR'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "None", done.stderr


def test_a_cache_folder_someone_else_could_write_is_not_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"campustwin-numba-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # made first by another user, open to all: numba would unpickle their files
    chosen = Path(twin._private_cache_dir())
    assert chosen != planted and chosen.parent == tmp_path
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
    planted.rmdir()
    assert Path(twin._private_cache_dir()) == planted  # made now, by this user, 0700: kept across runs
    assert stat.S_IMODE(planted.stat().st_mode) == 0o700
