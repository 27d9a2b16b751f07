"""The command line: classify, verify and inject as a user runs them (subprocesses), with their exit codes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import MANIFESTS_DIR, ROOT

FIXTURES = ROOT.parent / "shared" / "fixtures" / "real-bookinfo"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_classify_prints_one_json_object_per_page() -> None:
    files = [FIXTURES / "bookinfo-1.19.1-v3.html", FIXTURES / "bookinfo-1.20.3-v2-jason.html"]
    done = cli("classify", *map(str, files))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["version"], r["state"], r["user"], r["era"]) for r in rows] == [
        ("v3", "ok", None, "B"),
        ("v2", "ok", "jason", "C"),
    ]
    assert rows[0]["pod"] == "reviews-v3-5b9bd44f4-q6mnd" and rows[0]["file"] == str(files[0])


def test_classify_of_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = cli("classify", str(tmp_path / "nope.html"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _observations(path: Path, shares: dict[str, float], n: int, seed: int) -> None:
    rng = random.Random(seed)
    names, weights = list(shares), list(shares.values())
    path.write_text("".join(json.dumps({"version": rng.choices(names, weights)[0]}) + "\n" for _ in range(n)))


@pytest.mark.parametrize(
    ("shares", "expect", "code", "status"),
    [
        ({"v1": 0.5, "v3": 0.5}, "v1=0.5,v3=0.5", 0, "PASS"),
        ({"v1": 0.8, "v2": 0.2}, "v1=0.5,v3=0.5", 1, "FAIL"),
    ],
    ids=["a 50/50 stream passes", "an 80/20 stream fails a 50/50 expectation"],
)
def test_verify_stops_at_the_deciding_line(tmp_path: Path, shares, expect, code, status) -> None:  # type: ignore[no-untyped-def]
    # The seed fixes the stream; with a fresh seed a wrong verdict has probability <= 0.001 (alpha, beta).
    observations = tmp_path / "obs.jsonl"
    _observations(observations, shares, 5000, seed=11)
    out = tmp_path / "verdict.json"
    done = cli("verify", "--observations", str(observations), "--expect", expect, "--json", str(out))
    assert done.returncode == code, done.stdout + done.stderr
    verdict = json.loads(out.read_text())
    assert verdict["status"] == status
    assert verdict["lines_used"] < 5000 and done.stdout.startswith(
        f"{status} after {verdict['lines_used']} lines"
    )


def test_verify_refuses_expectations_that_do_not_sum_to_one(tmp_path: Path) -> None:
    observations = tmp_path / "obs.jsonl"
    observations.write_text('{"version": "v1"}\n')
    done = cli("verify", "--observations", str(observations), "--expect", "v1=0.5,v3=0.4")
    assert done.returncode == 2 and "--expect" in done.stderr and "Traceback" not in done.stderr


def test_inject_adds_the_sidecar_to_every_deployment_on_stdin() -> None:
    done = cli("inject", "-f", "-", stdin=(MANIFESTS_DIR / "bookinfo.yaml").read_text())
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("name: istio-proxy") == 4 and done.stdout.count("kind: Service\n") == 4


def test_run_with_an_unknown_scenario_name_says_which_exist() -> None:
    done = cli("run", "no-such-scenario")
    assert done.returncode == 2 and "reviews-50-50" in done.stderr and "Traceback" not in done.stderr


def test_the_makefile_run_target_uses_options_the_cli_has() -> None:
    from harness.cli import build_parser

    line = next(li for li in (ROOT / "Makefile").read_text().splitlines() if "bookinfo-harness run" in li)
    args = line.split("bookinfo-harness", 1)[1].split()
    assert build_parser().parse_args(args).exercise
