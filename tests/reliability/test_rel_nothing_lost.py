"""Nothing lost: a run killed (SIGKILL) mid-scenario is put back exactly by `restore`; a run stopped with
SIGTERM puts back what it changed itself (exit 130); the next run refuses to start over an unrestored journal.

The lab runs in its own process and the run is `bookinfo-harness run --target cluster` (just a kubeconfig),
so the lab outlives the run that is killed.
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from _relsupport import (
    cli,
    cluster_run,
    diff,
    journal_entries,
    requests_served,
    snapshot,
    start_slow_run,
    wait_for,
)

from harness.kube import KubeClient
from harness.lab.lab import LabInfo
from harness.lab.process import LabProcess

REVIEWS_V1 = {
    "apiVersion": "networking.istio.io/v1beta1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews", "namespace": "default", "labels": {"owner": "someone-else"}},
    "spec": {
        "hosts": ["reviews"],
        "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}],
    },
}
UNTOUCHED = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "keep-me", "namespace": "default", "labels": {"a": "b"}},
        "data": {"k": "v"},
    },
    {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": "unrelated", "namespace": "default"},
        "spec": {"host": "unrelated", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
    },
]


@pytest.fixture
def lab() -> Iterator[tuple[LabInfo, KubeClient]]:
    """A lab in its own process with Bookinfo (not injected), a reviews VirtualService the scenario will
    change, and objects the scenario never touches."""
    with LabProcess(with_bookinfo=True, seed=7) as info:
        kube = KubeClient(kubeconfig=Path(info.kubeconfig))
        for obj in [REVIEWS_V1, *UNTOUCHED]:
            kube.create(copy.deepcopy(obj))
        try:
            yield info, kube
        finally:
            kube.close()


def _wait_mid_traffic(proc, info: LabInfo, journal: Path, log: Path) -> None:  # type: ignore[no-untyped-def]
    # every apply journalled (the 50-50 VirtualService is the last), then sampled traffic at the gateway
    def applied() -> bool:
        assert proc.poll() is None, log.read_text()
        entries = journal_entries(journal)
        return any(
            e["kind"] == "VirtualService" and e["name"] == "reviews" and e["applied_version"] for e in entries
        )

    wait_for(applied, 60, "the run to apply its objects")
    start = requests_served(info.metrics_url)
    wait_for(lambda: requests_served(info.metrics_url) >= start + 30, 60, "traffic through the gateway")
    assert proc.poll() is None, log.read_text()


@pytest.mark.parametrize("when", ["mid-apply", "mid-traffic"])
def test_sigkill_then_restore_leaves_every_object_as_before(lab, tmp_path: Path, when: str) -> None:  # type: ignore[no-untyped-def]
    info, kube = lab
    before = snapshot(kube)
    proc, journal, log = start_slow_run(info.kubeconfig, tmp_path)
    try:
        if when == "mid-apply":
            wait_for(lambda: len(journal_entries(journal)) >= 6, 60, "journal entries")
        else:
            _wait_mid_traffic(proc, info, journal, log)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert journal.exists() and journal_entries(journal)
    assert diff(before, snapshot(kube)), "the killed run should have changed the lab"

    # the next run refuses to start and says how to restore
    again = cli(
        *cluster_run(info.kubeconfig, str(journal)),
        "reviews-50-50",
    )
    assert again.returncode == 3 and "Traceback" not in again.stderr
    assert f"bookinfo-harness restore --journal {journal}" in again.stderr

    done = cli("restore", "--journal", str(journal), "--kubeconfig", info.kubeconfig)
    assert done.returncode == 0, done.stderr + done.stdout
    assert not journal.exists()

    def restored() -> list[str]:
        return diff(before, snapshot(kube))

    # Deployments put back roll their pods back: wait (bounded) for the pods, then compare everything
    left: list[str] = []

    def settled() -> bool:
        left[:] = restored()
        return not left

    try:
        wait_for(settled, 20, "the lab to match its state before the run", poll_s=0.2)
    except AssertionError:
        pytest.fail("not restored:\n" + "\n".join(left))


def test_restore_reports_a_change_made_by_someone_else_and_leaves_it(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    info, kube = lab
    before = snapshot(kube)
    proc, journal, log = start_slow_run(info.kubeconfig, tmp_path)
    try:
        _wait_mid_traffic(proc, info, journal, log)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    theirs = kube.get("VirtualService", "default", "reviews")
    assert theirs is not None
    theirs["spec"]["http"] = [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]
    kube.replace(theirs)

    done = cli("restore", "--journal", str(journal), "--kubeconfig", info.kubeconfig)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "restore: VirtualService default/reviews was changed by someone else" in done.stderr
    live = kube.get("VirtualService", "default", "reviews")
    assert live is not None and live["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2"
    # everything else is back
    left: list[str] = []

    def settled() -> bool:
        left[:] = [d for d in diff(before, snapshot(kube)) if "VirtualService default/reviews" not in d]
        return not left

    wait_for(settled, 20, "the rest of the lab to be put back", poll_s=0.2)


def test_sigterm_mid_run_puts_back_what_it_changed_and_exits_130(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    info, kube = lab
    before = snapshot(kube)
    proc, journal, log = start_slow_run(info.kubeconfig, tmp_path)
    try:
        _wait_mid_traffic(proc, info, journal, log)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert code == 130, output
    assert "Traceback" not in output and "interrupted; what the run changed has been put back" in output
    assert not journal.exists()
    left: list[str] = []

    def settled() -> bool:
        left[:] = diff(before, snapshot(kube))
        return not left

    try:
        wait_for(settled, 20, "the lab to match its state before the run", poll_s=0.2)
    except AssertionError:
        pytest.fail("not restored:\n" + "\n".join(left))
