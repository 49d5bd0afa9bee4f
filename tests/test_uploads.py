"""Uploaded scenario and site files: size, safe YAML, validation, and paths kept in the sites folder."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.uploads import MAX_UPLOAD_BYTES, UploadError, read_scenario_upload, store_site_upload, upload_label

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
    assert sorted(p.name for p in sites.iterdir()) == ["catalog.yaml", "demo.yaml", "scenarios", "two.yaml"]
