"""pytest plugin: the same target options as `bookinfo-harness run`, and fixtures to run scenarios.

    def test_reviews_50_50(run_scenario):
        result = run_scenario("reviews-50-50")
        assert result.status.value == "PASS"

Fixtures: `bookinfo_target` (session: a lab started for the session, or the cluster named by the options) and
`run_scenario` (runs one scenario by name or path, restores what it changed, attaches the verdict table to
the test report). Options live in a "bookinfo-harness" group.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.runner import ScenarioResult
    from harness.target import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bookinfo-harness")
    group.addoption("--target", choices=("lab", "cluster"), default="lab", help="lab (default) or cluster")
    group.addoption("--kubeconfig", default=None, help="kubeconfig of the cluster")
    group.addoption("--context", default=None, help="kubeconfig context")
    group.addoption("--namespace", default="default", help="namespace of the Bookinfo workloads")
    group.addoption("--gateway-url", default=None, help="ingress gateway URL (default: discovered)")
    group.addoption("--prometheus-url", default=None, help="Prometheus for mirror accounting on a cluster")
    group.addoption("--alpha", type=float, default=None, help="false-FAIL rate for every verdict")
    group.addoption("--beta", type=float, default=None, help="missed-deviation rate for every verdict")
    group.addoption("--lab-seed", type=int, default=None, help="seed of the lab's random choices")
    group.addoption("--jaeger-url", default=None, help="Jaeger query URL for the trace check on a cluster")
    group.addoption("--era", choices=("A", "B", "C"), default="B", help="lab productpage era")


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"bookinfo-harness: target={config.getoption('--target')} era={config.getoption('--era')} "
        f"alpha={config.getoption('--alpha') or 'per scenario'}"
    )


@pytest.fixture(scope="session")
def bookinfo_target(request: pytest.FixtureRequest) -> Iterator[object]:
    from harness.lab.process import LabProcess
    from harness.target import cluster_target, lab_target

    opt = request.config.getoption
    lab = None
    try:
        if opt("--target") == "lab":
            lab = LabProcess(era=opt("--era"), seed=opt("--lab-seed"))
            target = lab_target(lab.start(), opt("--namespace"))
        else:
            target = cluster_target(
                kubeconfig=opt("--kubeconfig"),
                context=opt("--context"),
                namespace=opt("--namespace"),
                gateway_url=opt("--gateway-url"),
                prometheus_url=opt("--prometheus-url"),
            )
    except HarnessError as exc:
        if lab is not None:
            lab.stop()
        pytest.fail(f"bookinfo-harness target unavailable: {exc}", pytrace=False)
    try:
        yield target
    finally:
        target.kube.close()
        if lab is not None:
            lab.stop()


@pytest.fixture
def run_scenario(
    bookinfo_target: Target, request: pytest.FixtureRequest
) -> Iterator[Callable[[str | Path], ScenarioResult]]:
    from harness.cli import scenario_paths
    from harness.journal import Journal, restore
    from harness.report import verdict_table
    from harness.runner import Runner, RunOptions
    from harness.scenario import load_scenario

    opt = request.config.getoption
    tmp = tempfile.TemporaryDirectory(prefix="bookinfo-pytest-")
    journal = Journal.open_new(Path(tmp.name) / "journal.json", bookinfo_target.name)
    runner = Runner(bookinfo_target, journal, RunOptions(alpha=opt("--alpha"), beta=opt("--beta")))
    results = []

    def run(name_or_path: str | Path) -> ScenarioResult:
        path = scenario_paths([str(name_or_path)], False)[0]
        result = asyncio.run(runner.run(load_scenario(path)))
        results.append(result)
        request.node.user_properties.append(("verdicts", verdict_table([result])))
        return result

    try:
        yield run
    finally:
        restore(journal, bookinfo_target.kube)
        journal.discard()
        tmp.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        for key, value in item.user_properties:
            if key == "verdicts":
                report.sections.append(("bookinfo-harness verdicts", str(value)))
