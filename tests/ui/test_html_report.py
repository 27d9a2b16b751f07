"""The run report and the grade report: pure rendering checks, then both files in a real headless Chromium
(screenshots to artifacts/ui/ and docs/screenshots/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ui_support import chromium, needs_chromium, publish, sample_grade_document, sample_run, screenshot, text

from harness.htmlreport import (
    ConvergenceTrace,
    minimum_requests,
    render_report,
    trace_key,
    write_grade_report,
    write_report,
)
from harness.verdict import SequentialSplitTest


def test_a_trace_stays_bounded_and_keeps_the_decision_point() -> None:
    trace = ConvergenceTrace({"v1": 0.5, "v3": 0.5}, max_points=10)
    for i in range(1000):
        trace.observe("v1" if i % 2 else "v3")
    assert len(trace.points) <= 10 and trace.every == 128
    assert all(n % trace.every == 0 for n, _ in trace.points)
    test = SequentialSplitTest({"v1": 0.5, "v3": 0.5})
    verdict = test.observe_many(["v2"])  # a leak decides at once
    trace.observe("v2", verdict)
    trace.observe("v1")  # after the decision: not recorded
    assert (trace.n, trace.decided_at, trace.status) == (1001, 1001, "FAIL")
    assert trace.series()[-1] == (1001, {"v1": 500, "v3": 500, "v2": 1})
    again = ConvergenceTrace.from_json(json.loads(json.dumps(trace.to_json())))
    assert again == trace


def test_the_statistical_minimum_is_walds_expected_sample_size() -> None:
    verdict = SequentialSplitTest({"v1": 0.5, "v3": 0.5}).verdict()
    ref = minimum_requests(verdict)
    assert ref["wald"] == pytest.approx(337.7, abs=0.1)  # E0[N] of 0.5 vs 0.6 (and 0.4) at 1e-3
    assert ref["minimum"] == 338 and ref["leak"] == 66
    all_v1 = SequentialSplitTest({"v1": 1.0}).verdict()
    assert minimum_requests(all_v1)["minimum"] == 66  # only the leak-free run length applies


def test_the_run_report_is_self_contained_and_says_everything() -> None:
    results, traces = sample_run()
    html = render_report(results, traces, target="lab", generated="2024-05-01 10:00")
    assert "<script" not in html and "href=" not in html and "src=" not in html
    assert not re.search(r"https?://", html)  # no CDN, no links
    assert html.count('<section class="scenario"') == 3
    for status in ("PASS", "FAIL", "INCONCLUSIVE"):
        assert f'data-status="{status}"' in html
    assert html.count('class="decision"') == 3  # one decision marker per convergence chart
    assert "HARNESS001" in html and "configured VirtualService default/reviews" in html
    assert "Mirrored traffic" in html
    assert html.count("<desc") >= 7 and html.count("<table") >= 8  # text alternatives for every chart
    assert "Timeline" in html and "0.0–4.2 s" in html


def test_a_probe_without_a_trace_still_reports() -> None:
    results, _ = sample_run()
    html = render_report(results, {}, generated="x")
    assert "No convergence trace was recorded" in html and 'class="decision"' not in html


@needs_chromium
def test_the_run_report_in_chromium(tmp_path: Path) -> None:
    results, traces = sample_run()
    # traces may also come back from JSON (e.g. a run document written by another process)
    traces_json = {k: v.to_json() for k, v in traces.items()}
    path = write_report(results, traces_json, tmp_path / "run.html", target="lab", generated="2024-05-01")
    url = path.as_uri()
    dom = chromium(tmp_path / "p1", "--virtual-time-budget=1000", "--dump-dom", url)
    words = text(dom)
    assert "3 scenarios: 1 passed, 1 failed, 1 inconclusive" in words
    assert dom.count("share-line") == 6 and dom.count('class="decision"') == 3
    assert "PASS at n=" in words and "FAIL at n=" in words
    assert "statistical minimum" in words and "338" in words
    pass_section = dom.split('data-scenario="reviews-50-50"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"v1</td>.*?50\.0%", pass_section, re.S)
    shot = screenshot(tmp_path / "p2", url, "run-report.png", size="1200,2200", budget_ms=500)
    screenshot(tmp_path / "p3", url, "run-report-narrow.png", size="390,2400", budget_ms=500)
    publish(shot)


@needs_chromium
def test_the_grade_report_in_chromium(tmp_path: Path) -> None:
    document = sample_grade_document()
    (tmp_path / "grade.json").write_text(json.dumps(document))
    path = write_grade_report(tmp_path / "grade.json", tmp_path / "grade.html")
    dom = chromium(tmp_path / "p1", "--virtual-time-budget=1000", "--dump-dom", path.as_uri())
    words = text(dom)
    assert "alice 30 / 30" in words and "bob 20 / 30" in words
    assert "add subset v3 (version: v3) to the reviews DestinationRule" in words
    assert "DestinationRule default/reviews spec.subsets" in words
    assert 'aria-label="total score: 20 of 30 points"' in dom
    shot = screenshot(tmp_path / "p2", path.as_uri(), "grade-report.png", size="1100,1500", budget_ms=500)
    publish(shot)


def test_the_grade_report_takes_one_sheet_or_the_real_sheet_format(tmp_path: Path) -> None:
    from harness.grading.checks import CheckResult
    from harness.grading.score import ItemScore, Sheet

    check = CheckResult(
        "vs", "config", "config", 1.0, False, "weights 50/50", "80/20", "VS reviews", "fix it"
    )
    item = ItemScore("split", "Split", 10, 0, 10, 0, 0, 0, "fail", (check,))
    sheet = Sheet("servicemesh", "carol", [item])
    path = write_grade_report(sheet.to_json(), tmp_path / "one.html")
    html = path.read_text()
    assert "carol" in html and "0 / 10" in html and "fix it" in html and "<script" not in html
    assert trace_key("a", "b") == "a/b/reviews"
