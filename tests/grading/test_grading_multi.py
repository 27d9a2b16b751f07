"""Anti-cheat baseline/since on the lab, five labs graded concurrently, and the CLI's outputs."""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path

import yaml
from grading_support import RUBRIC, answer_key, apply, find, lab_with

from harness.cli_grade import add_parser, run
from harness.grading import TargetSpec, grade, grade_many, load_rubric
from harness.grading.baseline import flags_since
from harness.grading.grader import baseline_of
from harness.lab.process import LabProcess
from harness.target import lab_target

RUBRIC_OBJ = load_rubric(RUBRIC)


def test_since_flags_a_recreated_virtualservice(tmp_path: Path) -> None:
    with lab_with() as (info, target):
        spec = TargetSpec.for_lab("c1", info)
        baseline = baseline_of(spec, RUBRIC_OBJ)
        unchanged, state = grade(RUBRIC_OBJ, spec, baseline=baseline, config_only=True)
        assert state is not None
        before = flags_since(RUBRIC_OBJ, baseline, state.objects)
        assert "traffic-shift" not in before and "mirroring" not in before  # nothing recreated yet
        target.kube.delete("VirtualService", "default", "reviews")
        apply(target, [find(answer_key(), "VirtualService", "reviews")], tmp_path)
        sheet, _ = grade(RUBRIC_OBJ, spec, baseline=baseline, config_only=True)
    for item_id in ("traffic-shift", "mirroring"):
        item = sheet.item(item_id)
        assert item.status == "flagged" and item.earned == 0
        assert "VirtualService default/reviews was deleted and recreated" in item.flags[0]
    # deploy says reviews-v2/v3 are created during the exam: they were already there at baseline time
    assert "existed before the exam started" in sheet.item("deploy").flags[0]
    assert unchanged.item("traffic-shift").status != "flagged"


def test_five_labs_graded_concurrently_and_one_unreachable(tmp_path: Path) -> None:
    started = time.monotonic()
    with ExitStack() as stack:
        infos = [stack.enter_context(LabProcess(seed=i)) for i in range(5)]
        keyed = answer_key()
        for n, info in enumerate(infos[:3]):  # three perfect contestants, two who did nothing
            target = lab_target(info)
            (tmp_path / str(n)).mkdir()
            apply(target, keyed, tmp_path / str(n))
            target.kube.close()
        specs = [TargetSpec.for_lab(f"c{n}", info) for n, info in enumerate(infos)]
        dead = tmp_path / "dead-kubeconfig"  # a cluster whose API server is down
        dead.write_text(
            Path(infos[0].kubeconfig).read_text().replace(infos[0].api_url, "https://127.0.0.1:9")
        )
        specs.append(TargetSpec("gone", dead))
        sheets = grade_many(RUBRIC_OBJ, specs, parallel=6, budget_s=60)
    assert [s.target for s in sheets] == ["c0", "c1", "c2", "c3", "c4", "gone"]
    assert [s.earned for s in sheets[:3]] == [100, 100, 100]
    assert all(s.earned < 10 for s in sheets[3:])
    gone = sheets[-1]
    assert not gone.reachable and gone.earned == 0 and "connection refused" in gone.errors[0]
    assert all(i.status == "error" for i in gone.items)
    assert time.monotonic() - started < 60


def test_cli_writes_json_junit_classroom_and_baseline(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    with LabProcess(seed=3) as info:
        targets = tmp_path / "targets.yaml"
        targets.write_text(
            yaml.safe_dump(
                {
                    "alice": {
                        "kubeconfig": info.kubeconfig,
                        "gateway_url": info.gateway_url,
                        "metrics_url": info.metrics_url,
                    }
                }
            )
        )
        out = {k: tmp_path / f"out.{k}" for k in ("json", "junit", "classroom", "baseline", "html")}
        base = ["grade", "--rubric", str(RUBRIC), "--targets", str(targets)]
        assert run(parser.parse_args([*base, "--baseline", str(out["baseline"])])) == 0  # exam start
        target = lab_target(info)
        apply(target, answer_key(), tmp_path)  # the contestant's work
        target.kube.close()
        code = run(
            parser.parse_args(
                [
                    *base,
                    "--json",
                    str(out["json"]),
                    "--junit",
                    str(out["junit"]),
                    "--classroom",
                    str(out["classroom"]),
                    "--since",
                    str(out["baseline"]),
                    "--html",
                    str(out["html"]),
                ]
            )
        )
    assert code == 0
    doc = json.loads(out["json"].read_text())
    sheet = doc["sheets"][0]
    assert sheet["total"] == {"points": 100, "earned": 100} and sheet["identity"] == "bearer token"
    assert sheet["config"]["earned"] == 78 and sheet["behaviour"]["earned"] == 22
    cases = ET.parse(out["junit"]).getroot().findall(".//testcase")
    assert len(cases) == 11
    points = {c.get("name"): c.find("properties/property[@name='points']").get("value") for c in cases}
    assert points["gateway"] == "15" and not ET.parse(out["junit"]).getroot().findall(".//failure")
    classroom = json.loads(out["classroom"].read_text())
    assert classroom["status"] == "pass" and classroom["max_score"] == 100
    assert sum(t["score"] for t in classroom["tests"]) == 100
    page = out["html"].read_text()
    assert (
        page.lower().startswith("<!doctype html>") and "alice" in page and "100/100" in page.replace(" ", "")
    )
    assert 'src="http' not in page and 'href="http' not in page  # self-contained


def test_cli_unreachable_target_exits_3(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "grade",
            "--rubric",
            str(RUBRIC),
            "--kubeconfig",
            str(tmp_path / "nope"),
            "--json",
            str(tmp_path / "o.json"),
        ]
    )
    assert run(args) == 3
    sheet = json.loads((tmp_path / "o.json").read_text())["sheets"][0]
    assert sheet["total"]["earned"] == 0 and not sheet["reachable"]
