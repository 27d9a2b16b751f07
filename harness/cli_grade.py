"""The `bookinfo-harness grade` subcommand: score a contestant's cluster (or many) against a rubric.

    grade --rubric rubrics/servicemesh.yaml --kubeconfig K [--context C] [--json OUT] [--junit OUT]
          [--classroom OUT] [--baseline OUT | --since FILE] [--config-only]
    grade --rubric R --targets targets.yaml [--parallel N] [--budget S]
    grade --rubric R --target lab          # starts an (empty) lab: mostly for tests and demos

Read-only: the grader sends GETs to the Kubernetes API and requests to the ingress gateway, nothing else.
Exit codes: 0 graded, 2 usage or rubric error, 3 a target could not be reached (its sheet scores zero).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode, HarnessError, InputError

if TYPE_CHECKING:
    from harness.grading.grader import TargetSpec


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("grade", help="score a cluster against an exam rubric (read-only)")
    p.add_argument("--rubric", type=Path, required=True, help="rubric YAML (e.g. rubrics/servicemesh.yaml)")
    p.add_argument(
        "--target",
        choices=("cluster", "lab"),
        default="cluster",
        help="a cluster via kubeconfig (default), or the lab (started here unless --kubeconfig)",
    )
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig of the contestant's cluster")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--name", help="contestant name on the sheet (default: context, kubeconfig or 'lab')")
    p.add_argument(
        "--gateway-url", help="ingress gateway URL (default: discovered from istio-ingressgateway)"
    )
    p.add_argument("--metrics-url", help="Envoy/lab /metrics URL for mirror checks")
    p.add_argument("--prometheus-url", help="Prometheus for mirror checks on a cluster")
    p.add_argument("--targets", type=Path, help="YAML: name -> {kubeconfig, context, gateway_url, ...}")
    p.add_argument("--parallel", type=int, default=4, help="contestants graded at once (default 4)")
    p.add_argument("--budget", type=float, default=300.0, help="seconds per contestant (default 300)")
    p.add_argument("--config-only", action="store_true", help="skip behaviour checks (they score zero)")
    p.add_argument("--json", type=Path, help="write the score sheets as JSON")
    p.add_argument("--html", type=Path, help="write the score sheets as one self-contained HTML page")
    p.add_argument("--junit", type=Path, help="write JUnit XML (a points property per test case)")
    p.add_argument("--classroom", type=Path, help="write GitHub Classroom-shaped JSON")
    p.add_argument("--baseline", type=Path, help="record object identities now (exam start) to this file")
    p.add_argument("--since", type=Path, help="flag objects recreated or pre-existing since this baseline")
    return p


def _single_spec(args: argparse.Namespace) -> TargetSpec:
    from harness.grading.grader import TargetSpec

    name = args.name or args.context or (str(args.kubeconfig) if args.kubeconfig else "cluster")
    return TargetSpec(
        name, args.kubeconfig, args.context, args.gateway_url, args.metrics_url, args.prometheus_url
    )


def _grade(args: argparse.Namespace) -> int:
    from harness.grading import report
    from harness.grading.baseline import read_baseline, write_baseline
    from harness.grading.grader import TargetSpec, baseline_of, grade_many, load_targets
    from harness.grading.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    if args.targets and (args.kubeconfig or args.context or args.target == "lab"):
        raise InputError(
            "--targets grades its own list: do not combine it with --kubeconfig/--context/--target"
        )
    if args.baseline and args.since:
        raise InputError("--baseline records exam start, --since grades against one: use one at a time")
    lab = None
    try:
        if args.targets:
            specs = load_targets(args.targets)
        elif args.target == "lab" and args.kubeconfig is None:
            from harness.lab.process import LabProcess

            print("starting the lab ...", file=sys.stderr)
            lab = LabProcess()
            specs = [TargetSpec.for_lab(args.name or "lab", lab.start())]
        else:
            specs = [_single_spec(args)]
        if args.baseline:
            taken = {s.name: baseline_of(s, rubric) for s in specs}
            if len(specs) == 1:
                write_baseline(args.baseline, taken[specs[0].name])
            else:
                args.baseline.write_text(report.dumps({"targets": taken}))
            print(f"baseline of {len(specs)} target(s) written to {args.baseline}")
            return int(ExitCode.PASS)
        baselines = None
        if args.since:
            data = _read_since(args.since, read_baseline)
            if "targets" in data:
                baselines = data["targets"]
            else:
                baselines = {specs[0].name: data} if len(specs) == 1 else {str(data.get("target")): data}
        sheets = grade_many(
            rubric,
            specs,
            parallel=args.parallel,
            budget_s=args.budget,
            baselines=baselines,
            config_only=args.config_only,
        )
    finally:
        if lab is not None:
            lab.stop()
    for sheet in sheets:
        print(report.table(sheet))
        print()
    if len(sheets) > 1:
        print(report.summary(sheets))
    if args.json:
        args.json.write_text(report.dumps(report.document(sheets)))
    if args.html:
        from harness.htmlreport import write_grade_report

        write_grade_report(report.document(sheets), args.html)
    if args.junit:
        args.junit.write_text(report.junit(sheets))
    if args.classroom:
        args.classroom.write_text(report.dumps(report.classroom_many(sheets)))
    return int(ExitCode.PASS if all(s.reachable for s in sheets) else ExitCode.ENVIRONMENT)


def _read_since(path: Path, reader: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read baseline: {exc}") from None
    if isinstance(data, dict) and "targets" in data:
        return data
    return reader(path)


def run(args: argparse.Namespace) -> int:
    """Entry point for `bookinfo-harness grade`; errors become one line and an exit code."""
    try:
        return _grade(args)
    except HarnessError as exc:
        print(f"bookinfo-harness grade: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
