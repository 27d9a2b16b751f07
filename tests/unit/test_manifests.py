"""Manifest loading and kubectl's client-side label filter."""

from __future__ import annotations

import pytest

from harness.errors import InputError
from harness.lab.injection import has_proxy, inject_objects, wants_sidecar
from harness.manifests import load_manifest_file, matches_selector, parse_manifests
from harness.paths import MANIFESTS_DIR

ALL = sorted(MANIFESTS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_every_shipped_manifest_loads(path) -> None:  # type: ignore[no-untyped-def]
    assert load_manifest_file(path)


BAD = [
    ("malformed YAML", "kind: [", "m.yaml:1"),
    ("a scalar document", "hello", "not a Kubernetes object"),
    ("no kind", "apiVersion: v1\nmetadata: {name: x}", "missing kind"),
    ("unknown kind", "apiVersion: v1\nkind: Widget\nmetadata: {name: x}", 'unknown kind "Widget"'),
    (
        "unknown Istio version",
        "apiVersion: networking.istio.io/v1beta3\nkind: VirtualService\nmetadata: {name: x}",
        'no matches for kind "VirtualService" in version "networking.istio.io/v1beta3"',
    ),
    ("no name", "apiVersion: v1\nkind: Service\nmetadata: {}", "no metadata.name"),
]


@pytest.mark.parametrize(("case", "text", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_manifests_are_refused_with_one_clear_line(case: str, text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_manifests(text, "m.yaml")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


SELECTORS = [
    ({"app": "productpage"}, "app=productpage", True),
    ({"app": "details"}, "app=productpage", False),
    ({"app": "details"}, "app!=productpage", True),
    ({"account": "productpage"}, "app!=productpage", True),  # kubectl: a missing label is "not equal"
    ({"app": "reviews", "version": "v2"}, "app=reviews,version in (v2,v3)", True),
    ({"app": "reviews", "version": "v1"}, "app=reviews,version notin (v2, v3)", True),
    ({"app": "reviews"}, "version", False),
    ({"app": "reviews"}, "!version", True),
    ({"app": "reviews"}, "app==reviews", True),
]


@pytest.mark.parametrize(
    ("labels", "selector", "expected"), SELECTORS, ids=[s[1] + " on " + str(s[0]) for s in SELECTORS]
)
def test_label_selectors_match_like_kubectl(labels, selector, expected) -> None:  # type: ignore[no-untyped-def]
    assert matches_selector(labels, selector) is expected


def test_kube_inject_adds_the_proxy_to_workloads_only() -> None:
    objects = load_manifest_file(MANIFESTS_DIR / "bookinfo.yaml")
    injected = inject_objects(objects)
    for before, after in zip(objects, injected, strict=True):
        if before["kind"] == "Deployment":
            assert has_proxy(after["spec"]["template"]["spec"])
            assert "sidecar.istio.io/status" in after["spec"]["template"]["metadata"]["annotations"]
        else:
            assert after == before
    assert inject_objects(injected) == injected  # idempotent


INJECTION = [
    ("labelled namespace", {"istio-injection": "enabled"}, {}, True),
    ("unlabelled namespace", {}, {}, False),
    ("template asks for it", {}, {"sidecar.istio.io/inject": "true"}, True),
    (
        "template refuses it in a labelled namespace",
        {"istio-injection": "enabled"},
        {"sidecar.istio.io/inject": "false"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "ns_labels", "annotations", "expected"), INJECTION, ids=[c[0] for c in INJECTION]
)
def test_injection_decision(case, ns_labels, annotations, expected) -> None:  # type: ignore[no-untyped-def]
    template = {"metadata": {"annotations": annotations}, "spec": {"containers": [{"name": "app"}]}}
    assert wants_sidecar(ns_labels, template) is expected
