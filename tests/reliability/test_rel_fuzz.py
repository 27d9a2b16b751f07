"""Hypothesis fuzzing (deterministic: derandomize=True, no example database): the lab's Kubernetes API
answers random JSON and bytes with a 4xx Status or a success, never a 5xx, and stays up; the manifest loader
and the scenario parser answer random YAML and bytes with InputError/ScenarioError and nothing else."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.manifests import parse_manifests
from harness.scenario import parse_scenario

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
KINDS = st.sampled_from(
    ["Pod", "Service", "Deployment", "VirtualService", "DestinationRule", "Gateway", "Nope"]
)
API_VERSIONS = st.sampled_from(
    ["v1", "apps/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1", "x/y"]
)
names = st.text(alphabet="abcxyz-0.", min_size=0, max_size=12) | st.text(max_size=8)
k8s_like = st.fixed_dictionaries(
    {
        "apiVersion": API_VERSIONS,
        "kind": KINDS,
        "metadata": st.fixed_dictionaries({"name": names}) | json_values,
    },
    optional={"spec": json_values, "status": json_values, "data": json_values},
)

PATHS = [
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/services/details",
    "/api/v1/namespaces",
    "/apis/apps/v1/namespaces/default/deployments/reviews-v1",
    "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices",
    "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices/reviews",
    "/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews",
    "/apis/apps/v1/namespaces/default/deployments/reviews-v1/scale",
]
CONTENT_TYPES = [
    "application/json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
]


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Lab, httpx.Client]]:
    thread = LabThread(LabOptions(seed=2, with_bookinfo=True))
    with thread as lab:
        assert lab.api is not None and lab.state_dir is not None
        context = ssl.create_default_context(cadata=lab.api.ca_pem.decode())
        headers = {"Authorization": f"Bearer {lab.token}"}
        with httpx.Client(base_url=lab.api.url, verify=context, headers=headers, timeout=10) as client:
            yield lab, client


def _check(client: httpx.Client, method: str, path: str, body: bytes, content_type: str) -> None:
    query = {"fieldManager": "fuzz", "force": "true"} if "apply" in content_type else None
    response = client.request(
        method, path, content=body, headers={"Content-Type": content_type}, params=query
    )
    assert response.status_code < 500, (method, path, content_type, body[:200], response.text[:300])
    if response.status_code >= 400:
        status = response.json()
        assert status.get("kind") == "Status" and status.get("code") == response.status_code, status


@settings(FUZZ, max_examples=250)
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH"]),
    path=st.sampled_from(PATHS),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=k8s_like.map(lambda o: json.dumps(o).encode())
    | json_values.map(lambda o: json.dumps(o).encode())
    | st.binary(max_size=200),
)
def test_the_lab_api_answers_random_bodies_with_4xx_or_success(api, method, path, content_type, body) -> None:  # type: ignore[no-untyped-def]
    _, client = api
    _check(client, method, path, body, content_type)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_the_scale_subresource_refuses_a_malformed_body_with_4xx(api, method: str) -> None:  # type: ignore[no-untyped-def]
    _, client = api
    body = b'{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": [null], "spec": [1]}'
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    _check(
        client, method, "/apis/apps/v1/namespaces/default/deployments/reviews-v1/scale", body, content_type
    )


def test_the_lab_api_is_still_up_after_the_fuzzing(api) -> None:  # type: ignore[no-untyped-def]
    _, client = api
    assert client.get("/version").status_code == 200
    assert client.get("/api/v1/namespaces/default/services/productpage").status_code == 200


yaml_text = (
    json_values.map(lambda v: yaml.safe_dump(v, sort_keys=False))
    | st.lists(k8s_like, max_size=3).map(lambda docs: yaml.safe_dump_all(docs, sort_keys=False))
    | st.text(alphabet=st.sampled_from(list(":-[]{}!&*#|>'\"%@`,? \n\tabcv1 2001-13-45")), max_size=60)
    | st.binary(max_size=100).map(lambda b: b.decode("utf-8", errors="replace"))
)


NASTY_YAML = [
    "\x00",
    "a: 2001-13-45",
    "a: !!int x",
    "[" * 5000 + "]" * 5000,
    "apiVersion: v1\nkind: Service\nmetadata: &m {name: x, self: *m}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {created: 2001-12-14, b: !!binary aGk=}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: !!set {a, b}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: [x]}\n",
]


def _examples(fn):  # type: ignore[no-untyped-def]
    for text in NASTY_YAML:
        fn = example(text=text)(fn)
    return fn


@_examples
@settings(FUZZ, max_examples=400)
@given(text=yaml_text)
def test_the_manifest_loader_refuses_with_input_errors_only(text: str) -> None:
    try:
        objects = parse_manifests(text, "fuzz.yaml")
    except InputError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc)
        return
    assert all(isinstance(o, dict) and o.get("kind") and o.get("metadata", {}).get("name") for o in objects)


scenario_like = st.fixed_dictionaries(
    {"name": names},
    optional={
        "traffic": json_values
        | st.fixed_dictionaries({}, optional={"max_requests": json_values, "path": json_values}),
        "expect": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "reviews": json_values,
                "pages": json_values,
                "mirror": json_values,
                "routes": json_values,
                "pods": json_values,
                "objects": json_values,
            },
        ),
        "apply": json_values,
        "setup": json_values,
        "delete": json_values,
        "probes": json_values,
        "tolerance": json_values,
        "alpha": json_values,
        "leak_tolerance": json_values,
    },
)


@_examples
@settings(FUZZ, max_examples=500)
@given(text=scenario_like.map(lambda d: yaml.safe_dump(d, sort_keys=False)) | yaml_text)
def test_the_scenario_parser_refuses_with_scenario_errors_only(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    base = Path(tmp_path_factory.getbasetemp())
    try:
        parse_scenario(text, source="fuzz-scenario.yaml", base_dir=base)
    except InputError as exc:  # ScenarioError is an InputError
        assert str(exc).startswith("fuzz-scenario.yaml") and "\n" not in str(exc)
