"""Master + two worker processes on loopback: the master's per-version counts are the sum of the workers'.

Every worker writes its own lifetime counts on quit (``--counts-file``); the master writes what it received
and aggregated. The master stops its workers before quitting, so their final reports always arrive.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

from _locustlab import apply_scenario, free_port, locust_command, locust_env


def test_master_aggregates_exactly_the_workers_counts(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    apply_scenario(lab, "reviews-50-50", setup=False)
    port = str(free_port())
    master = subprocess.Popen(
        locust_command(
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--headless",
            "--expect-workers",
            "2",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "3s",
            "--host",
            lab.gateway_url,
            "--expect",
            "v1=0.5,v3=0.5",
            "--alpha",
            "1e-7",
            "--keep-running",
            "--only-summary",
            "--verdict-json",
            str(tmp_path / "verdict.json"),
            "--counts-file",
            str(tmp_path / "master.json"),
            "--csv",
            str(tmp_path / "dist"),
        ),
        env=locust_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            locust_command(
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                port,
                "--jason-share",
                "0.5",
                "--counts-file",
                str(tmp_path / f"worker{i}.json"),
            ),
            env=locust_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        _, master_err = master.communicate(timeout=60)
        worker_errs = [w.communicate(timeout=30)[1] for w in workers]
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode in (0, 4), master_err[-2000:]
    assert all(w.returncode == 0 for w in workers), worker_errs

    master_counts = json.loads((tmp_path / "master.json").read_text())
    worker_counts = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert master_counts["role"] == "master" and {w["role"] for w in worker_counts} == {"worker"}
    assert all(w["total"] > 0 for w in worker_counts)  # both workers drove load
    summed: dict[str, Counter[str]] = {}
    for counts in worker_counts:
        for identity, versions in counts["versions"].items():
            summed.setdefault(identity, Counter()).update(versions)
    assert master_counts["versions"] == {who: dict(sorted(c.items())) for who, c in summed.items()}
    assert set(summed) == {"anonymous", "jason"}  # 3 users per worker, share 1/2: one logs in on each
    assert master_counts["total"] == sum(w["total"] for w in worker_counts)
    assert master_counts["received_per_worker"] == {w["client_id"]: w["total"] for w in worker_counts}

    scenario = json.loads((tmp_path / "verdict.json").read_text())["scenarios"][0]
    assert scenario["verdict"] in ("PASS", "INCONCLUSIVE")  # FAIL with probability <= alpha = 1e-7
    reviews = scenario["probes"][0]["reviews"]
    assert reviews["n"] <= sum(summed["anonymous"].values())
