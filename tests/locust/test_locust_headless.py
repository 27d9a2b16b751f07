"""Locust headless against the lab: one CSV row per outcome, and the verdict JSON of `bookinfo-harness run`.

Error bounds of the assertions: the 100% v3 run must PASS (the lab routes deterministically, and an "all"
split passes after exactly 66 leak-free pages). For 50/50 the run uses alpha = 1e-7, so a FAIL on a correct
mesh has probability <= 1e-7; INCONCLUSIVE is allowed (time budget). A row for each of v1/v3 and each identity
is missing with probability < 2**-20 given the page counts asserted first.
"""

from __future__ import annotations

import json

from _locustlab import apply_scenario, csv_rows, run_locust

from harness.drivers.locust.driver import run_locust_probe
from harness.paths import SCENARIOS_DIR
from harness.runner import ProbeResult
from harness.scenario import load_scenario

SCENARIO_KEYS = {
    "name",
    "description",
    "verdict",
    "requests",
    "observed",
    "expected",
    "findings",
    "checks",
    "probes",
    "mirror",
    "applied",
    "seconds",
    "error",
}
PROBE_KEYS = {"name", "user", "verdict", "requests", "seconds", "stopped_by", "reviews", "pages"}


def _headless(lab, tmp_path, *args: str):  # type: ignore[no-untyped-def]
    proc = run_locust(
        [
            "--headless",
            "-u",
            "8",
            "-r",
            "8",
            "-t",
            "20s",
            "--host",
            lab.gateway_url,
            "--only-summary",
            "--verdict-json",
            str(tmp_path / "verdict.json"),
            "--csv",
            str(tmp_path / "run"),
            *args,
        ]
    )
    document = json.loads((tmp_path / "verdict.json").read_text())
    return proc, document, csv_rows(tmp_path / "run")


def test_all_v3_passes_with_one_row(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    apply_scenario(lab, "reviews-v3", setup=False)
    proc, document, rows = _headless(lab, tmp_path, "--scenario", "reviews-v3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    scenario = document["scenarios"][0]
    assert set(scenario) == SCENARIO_KEYS and set(scenario["probes"][0]) == PROBE_KEYS
    assert scenario["name"] == "reviews-v3" and scenario["verdict"] == "PASS"
    reviews = scenario["probes"][0]["reviews"]
    assert reviews["status"] == "PASS" and reviews["counts"] == {"v3": 66} and reviews["n"] == 66
    assert scenario["observed"] == {"traffic": {"v3": 1.0}} and scenario["expected"] == {
        "traffic": {"v3": 1.0}
    }
    page_rows = {name for (kind, name) in rows if name.startswith("productpage")}
    assert page_rows == {"productpage [reviews v3]"}
    row = rows[("GET", "productpage [reviews v3]")]
    assert int(row["Request Count"]) >= 66 + 10 and row["Failure Count"] == "0"  # 10 gated pages first
    assert "bookinfo verdict: PASS" in proc.stderr


def test_50_50_with_logged_in_users(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    apply_scenario(lab, "reviews-50-50", setup=False)
    proc, document, rows = _headless(
        lab, tmp_path, "--expect", "v1=0.5,v3=0.5", "--alpha", "1e-7", "--jason-share", "0.25"
    )
    scenario = document["scenarios"][0]
    assert set(document) >= {"target", "seed", "scenarios"} and set(scenario) == SCENARIO_KEYS
    probe = scenario["probes"][0]
    assert set(probe) == PROBE_KEYS and probe["name"] == "traffic" and probe["user"] is None
    assert probe["reviews"]["alpha"] == 1e-7 and set(probe["reviews"]["counts"]) <= {"v1", "v3"}
    assert scenario["verdict"] in ("PASS", "INCONCLUSIVE"), probe["reviews"]["reason"]
    assert proc.returncode == {"PASS": 0, "INCONCLUSIVE": 4}[scenario["verdict"]]
    assert rows[("POST", "login")]["Request Count"] == "2"  # 8 users x 0.25, exactly
    assert rows[("POST", "login")]["Failure Count"] == "0"
    anonymous = sum(int(rows[("GET", f"productpage [reviews {v}]")]["Request Count"]) for v in ("v1", "v3"))
    jason = sum(
        int(r["Request Count"]) for (_, name), r in rows.items() if name.startswith("productpage jason")
    )
    assert anonymous >= probe["reviews"]["n"] >= 66 and jason >= 20
    assert {name for (_, name) in rows if name.startswith("productpage")} == {
        "productpage [reviews v1]",
        "productpage [reviews v3]",
        "productpage jason [reviews v1]",
        "productpage jason [reviews v3]",
    }
    aggregated = rows[("", "Aggregated")]
    assert int(aggregated["Request Count"]) == anonymous + jason + 2 and aggregated["Failure Count"] == "0"


def test_driver_runs_a_scenario_probe_in_a_subprocess(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    apply_scenario(lab, "reviews-v3", setup=False)
    scenario = load_scenario(SCENARIOS_DIR / "10-reviews-v3.yaml")
    result = run_locust_probe(lab.gateway_url, scenario, scenario.probes[0], workdir=tmp_path)
    assert result.exit_code == 0, result.log.read_text()[-2000:]
    assert result.status.value == "PASS" and result.stopped_by == "decided"
    assert result.reviews is not None and result.reviews.counts == {"v3": 66}
    probe = result.to_probe_result()
    assert isinstance(probe, ProbeResult) and probe.to_json()["verdict"] == "PASS"
    assert (tmp_path / "reviews-v3.traffic_stats.csv").exists()
