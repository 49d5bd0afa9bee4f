"""Uploaded scenario and site files: size, safe YAML, validation, paths kept in the sites folder,
and a campus name taken once, even by two processes storing uploads at the same moment."""

from __future__ import annotations

import multiprocessing as mp
import shutil
import time
from pathlib import Path

import pytest

from app.stamps import site_files
from app.uploads import (
    LOCK_NAME,
    MAX_UPLOAD_BYTES,
    UploadError,
    read_scenario_upload,
    store_site_upload,
    upload_label,
)

SAMPLES = Path(__file__).resolve().parent.parent / "sample_sites"
SCENARIO = (SAMPLES / "scenarios" / "demo_whatif.yaml").read_bytes()
SITE = (SAMPLES / "demo.yaml").read_bytes()


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    folder = tmp_path / "sites"
    (folder / "scenarios").mkdir(parents=True)
    for name in ("catalog.yaml", "demo.yaml"):
        shutil.copy(SAMPLES / name, folder / name)
    (tmp_path / "secret.yaml").write_text("name: secret\nbuildings: []\n")  # outside the sites folder
    return folder


def site_named(name: str) -> bytes:
    return SITE.replace(b"name: Demo", f"name: {name}".encode(), 1)


def listed(folder: Path) -> list[str]:
    """The folder's files as a page sees them; hidden ones may only be the upload lock."""
    assert {p.name for p in folder.iterdir() if p.name.startswith(".")} <= {LOCK_NAME}  # no trial left
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def refused(call, *args) -> str:
    with pytest.raises(UploadError) as exc:
        call(*args)
    return "\n".join(exc.value.problems)


def test_a_valid_scenario_is_read_and_labelled_by_its_name_only(sites: Path) -> None:
    label, data = read_scenario_upload("C:\\Users\\x\\..\\acme/../what if.yaml", SCENARIO, sites)
    assert label == "what if.yaml" and data["leases"][0]["name"] == "acme-gb200-pod"
    assert upload_label("../../<b>.yaml") == "_b_.yaml" and upload_label("") == "upload.yaml"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"x" * (MAX_UPLOAD_BYTES + 1), "over the console's 1024 KiB limit"),
        (b"\xff\xfen\x00a\x00", "UTF-16"),
        (b"name: !!python/object/apply:os.system [id]\n", "tag"),
        (b"a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n"
         b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e]\n"
         b"g: [*f,*f,*f,*f,*f,*f,*f,*f]\n", "alias"),
        (SITE, "this is a site file; upload a scenario file here"),
        (SCENARIO.replace(b"sites: [../demo.yaml]", b"sites: [../../secret.yaml]"), "outside the console's sites folder"),
        (SCENARIO.replace(b"sites: [../demo.yaml]", b"sites: [/etc/passwd]"), "outside the console's sites folder"),
        (SCENARIO.replace(b"gpus: 576", b"gpus: 99999"), "lease wants 99,999 GB200 GPUs"),
    ],
)  # fmt: skip
def test_a_bad_scenario_upload_is_refused_with_the_place_and_the_fix(
    sites: Path, raw: bytes, message: str
) -> None:
    start = time.monotonic()
    text = refused(read_scenario_upload, "up.yaml", raw, sites)
    assert message in text and time.monotonic() - start < 5
    assert "secret" not in text.replace("secret.yaml", "")  # the outside file was never read


def test_a_trace_outside_the_sites_folder_is_refused(sites: Path) -> None:
    raw = SCENARIO + b"trace: {file: ../../../secret.yaml}\n"
    assert "trace.file" in refused(read_scenario_upload, "t.yaml", raw, sites)
    # A hosted model's request trace too (a review found it was not checked, and a run quoted
    # the first line of whatever file it named).
    raw = SCENARIO + b"hosted_models:\n  - {name: m, trace: {file: /etc/hostname}}\n"
    assert "hosted_models[0].trace.file" in refused(read_scenario_upload, "h.yaml", raw, sites)


def test_a_site_upload_is_stored_under_a_safe_new_name_never_over_another(sites: Path) -> None:
    raw = SITE.replace(b"name: Demo", b"name: Demo Two", 1)
    path = store_site_upload("../../<two>.yaml", raw, sites, {"Demo"})
    assert path == sites / "two.yaml" and path.read_bytes() == raw
    assert "already there" in refused(
        store_site_upload, "two.yaml", raw.replace(b"Demo Two", b"Three"), sites, set()
    )
    assert "a campus named 'Demo' is already there" in refused(
        store_site_upload, "d2.yaml", SITE, sites, {"Demo"}
    )
    outside = raw.replace(b"name: Demo Two", b"name: X", 1).replace(
        b"catalog: catalog.yaml", b"catalog: ../../secret.yaml"
    )
    assert "outside the console's sites folder" in refused(store_site_upload, "x.yaml", outside, sites, set())
    broken = raw.replace(b"name: Demo Two", b"name: Y", 1).replace(b"racks:", b"rackz:", 1)
    problems = refused(store_site_upload, "y.yaml", broken, sites, set())
    assert problems.startswith("y.yaml:") and ".upload-" not in problems
    assert listed(sites) == ["catalog.yaml", "demo.yaml", "scenarios", "two.yaml"]


def test_a_campus_name_on_disk_is_refused_though_the_caller_did_not_list_it(sites: Path) -> None:
    (sites / "broken.yaml").write_text("name: [Unclosed\nbuildings: []\n")  # fails to load: no campus
    before = listed(sites)
    problems = refused(store_site_upload, "other.yaml", SITE, sites, set())  # the caller's stale listing
    assert problems == (
        "other.yaml: a campus named 'Demo' is already there, in demo.yaml; "
        "rename yours (name:) and upload it again"
    )
    assert listed(sites) == before
    assert store_site_upload("other.yaml", site_named("Other"), sites, set()) == sites / "other.yaml"
    assert set(site_files(sites)) == {"Demo", "Other"}


def test_an_upload_waits_a_bounded_time_for_another_one_being_stored(sites: Path, monkeypatch) -> None:
    import fcntl

    from app import uploads

    monkeypatch.setattr(uploads, "LOCK_WAIT_S", 0.2)
    with open(sites / LOCK_NAME, "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another upload in the middle of being stored
        start = time.monotonic()
        problems = refused(store_site_upload, "late.yaml", site_named("Late"), sites, set())
        assert 0.2 <= time.monotonic() - start < 2
    assert problems == (
        "late.yaml: another site upload kept the sites folder busy for 0.2 s; upload yours again in a moment"
    )
    assert listed(sites) == ["catalog.yaml", "demo.yaml", "scenarios"]
    assert store_site_upload("late.yaml", site_named("Late"), sites, set()) == sites / "late.yaml"


def test_a_sites_folder_the_console_cannot_write_refuses_the_upload_with_the_fix(tmp_path: Path) -> None:
    gone = tmp_path / "sites"  # removed (or unwritable) while the console runs
    problems = refused(store_site_upload, "new.yaml", site_named("New"), gone, set())
    assert problems.startswith("new.yaml: the console cannot write into its sites folder (")
    assert problems.endswith("make that folder writable, then upload again")
    assert not gone.exists()


def _race_uploader(folder: str, worker: int, rounds: int, barrier, out) -> None:
    """Each round, store a file of its own with the round's campus name, once the other is ready."""
    for r in range(rounds):
        raw = site_named(f"Race {r}")
        barrier.wait(30)
        try:
            path = store_site_upload(f"race{r}-{worker}.yaml", raw, Path(folder), {"Demo"})
            out.put((r, "stored", path.name))
        except UploadError as exc:
            out.put((r, "refused", "; ".join(exc.problems)))
        except Exception as exc:  # reported, not lost in the child
            out.put((r, "failed", repr(exc)))


def test_two_processes_uploading_one_campus_name_at_once_store_it_once(sites: Path) -> None:
    rounds = 6
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race_uploader, args=(str(sites), w, rounds, barrier, out)) for w in (0, 1)]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=60) for _ in range(2 * rounds)]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    for r in range(rounds):
        outcomes = sorted((kind, text) for rr, kind, text in results if rr == r)
        assert [kind for kind, _ in outcomes] == ["refused", "stored"], outcomes
        (_, why), (_, stored) = outcomes
        loser = f"race{r}-{1 - int(stored.removesuffix('.yaml')[-1])}.yaml"
        assert why == (
            f"{loser}: a campus named 'Race {r}' is already there, in {stored}; "
            "rename yours (name:) and upload it again"
        )
    assert sorted(site_files(sites)) == ["Demo", *(f"Race {r}" for r in range(rounds))]
    assert len(listed(sites)) == 3 + rounds  # catalog, demo, scenarios and one file per round
