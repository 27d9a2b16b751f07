"""The validating webhook: each refusal with its message fragment, and the Bookinfo samples admitted (items 2, 10, 21, 22, 27)."""

# ruff: noqa: E501 - table rows carry inline YAML; wrapping them would hide the config under test

from __future__ import annotations

import pytest
import yaml

from harness.lab.mesh import MeshOptions, parse_duration, validate


def vs(http: str, hosts: str = "[reviews]", extra: str = "", version: str = "v1alpha3") -> dict:
    return yaml.safe_load(
        f"""
apiVersion: networking.istio.io/{version}
kind: VirtualService
metadata: {{name: reviews, namespace: default}}
spec:
  hosts: {hosts}
{extra}  http:
{http}"""
    )


ROUTE = "    route:\n    - destination: {host: reviews, subset: v1}\n"

REFUSED = [
    (
        "10: negative weight",
        vs("  - route:\n    - destination: {host: reviews}\n      weight: -1\n"),
        "spec.http[0].route[0].weight",
        "weight -1 < 0",
    ),
    (
        "10: all-zero weights with two destinations",
        vs(
            "  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 0\n    - destination: {host: reviews, subset: v2}\n      weight: 0\n"
        ),
        "spec.http[0].route",
        "total destination weight = 0",
    ),
    (
        "22: mirror together with mirrors",
        vs("  - mirror: {host: reviews}\n    mirrors:\n    - destination: {host: reviews}\n" + ROUTE),
        "spec.http[0]",
        "cannot be used together",
    ),
    (
        "22: mirrorPercentage above 100",
        vs("  - mirror: {host: reviews}\n    mirrorPercentage: {value: 101}\n" + ROUTE),
        "spec.http[0].mirrorPercentage",
        "max value of 100",
    ),
    (
        "22: mirrorPercentage below 0",
        vs("  - mirror: {host: reviews}\n    mirrorPercentage: {value: -1}\n" + ROUTE),
        "spec.http[0].mirrorPercentage",
        "not in range 0..100",
    ),
    (
        "21: fault with neither delay nor abort",
        vs("  - fault: {}\n" + ROUTE),
        "spec.http[0].fault",
        "fault must have an abort or delay",
    ),
    (
        "21: abort status 600",
        vs("  - fault:\n      abort: {httpStatus: 600, percentage: {value: 100}}\n" + ROUTE),
        "spec.http[0].fault.abort.httpStatus",
        "not in range 200-599",
    ),
    (
        "21: abort status 199",
        vs("  - fault:\n      abort: {httpStatus: 199}\n" + ROUTE),
        "spec.http[0].fault.abort.httpStatus",
        "HTTP status 199",
    ),
    (
        "21: delay percentage above 100",
        vs("  - fault:\n      delay: {fixedDelay: 1s, percentage: {value: 150}}\n" + ROUTE),
        "spec.http[0].fault.delay.percentage.value",
        "percentage 150",
    ),
    (
        "21: removed abort.percent is an unknown field",
        vs("  - fault:\n      abort: {httpStatus: 500, percent: 100}\n" + ROUTE),
        "spec.http[0].fault.abort.percent",
        "unknown field",
    ),
    (
        "2: wildcard host on a mesh VS",
        vs("  - route:\n    - destination: {host: reviews}\n", hosts='["*"]'),
        "spec.hosts[0]",
        "wildcard host * is not allowed for virtual services bound to the mesh gateway",
    ),
    (
        "2: wildcard host with mesh listed among gateways",
        vs(
            "  - route:\n    - destination: {host: reviews}\n",
            hosts='["*"]',
            extra="  gateways: [bookinfo-gateway, mesh]\n",
        ),
        "spec.hosts[0]",
        "bound to the mesh gateway",
    ),
    (
        "duplicate hosts",
        vs("  - route:\n    - destination: {host: reviews}\n", hosts="[reviews, reviews]"),
        "spec.hosts[1]",
        "duplicate hosts",
    ),
    (
        "VS without http, tcp or tls",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: r}\nspec: {hosts: [reviews]}"
        ),
        "spec",
        "http, tcp or tls must be provided in virtual service",
    ),
    (
        "24: redirect with route",
        vs("  - redirect: {uri: /x}\n" + ROUTE),
        "spec.http[0]",
        "cannot contain both route and redirect",
    ),
    (
        "24: redirect with fault",
        vs("  - redirect: {uri: /x}\n    fault: {abort: {httpStatus: 500}}\n"),
        "spec.http[0]",
        "both fault and redirect",
    ),
    (
        "24: redirect with rewrite",
        vs("  - redirect: {uri: /x}\n    rewrite: {uri: /y}\n"),
        "spec.http[0]",
        "both rewrite and redirect",
    ),
    (
        "24: redirect with directResponse",
        vs("  - redirect: {uri: /x}\n    directResponse: {status: 200}\n"),
        "spec.http[0]",
        "redirect and direct_response",
    ),
    (
        "24: route, redirect or directResponse required",
        vs("  - timeout: 1s\n"),
        "spec.http[0]",
        "HTTP route, redirect or direct_response is required",
    ),
    (
        "unknown field is reported with its path",
        vs("  - rout:\n    - destination: {host: reviews}\n"),
        "spec.http[0].rout",
        'unknown field "spec.http[0].rout"',
    ),
    (
        "unknown field in a nested destination",
        vs("  - route:\n    - destination: {host: reviews, subsett: v1}\n"),
        "spec.http[0].route[0].destination.subsett",
        "unknown field",
    ),
    (
        "unparsable duration",
        vs("  - timeout: 7 seconds\n" + ROUTE),
        "spec.http[0].timeout",
        "invalid duration",
    ),
    (
        "negative retry attempts",
        vs("  - retries: {attempts: -1}\n" + ROUTE),
        "spec.http[0].retries.attempts",
        "attempts cannot be negative",
    ),
    (
        "invalid regex",
        vs("  - match:\n    - uri: {regex: '(unclosed'}\n" + ROUTE),
        "spec.http[0].match[0].uri.regex",
        "not a valid regex",
    ),
    (
        "27: non-existent API version v1beta3",
        vs(ROUTE.replace("    route", "  - route"), version="v1beta3"),
        "apiVersion",
        'no matches for kind "VirtualService" in version "networking.istio.io/v1beta3"',
    ),
    (
        "DR without host",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata: {name: r}\nspec: {subsets: [{name: v1, labels: {version: v1}}]}"
        ),
        "spec.host",
        "host must be set",
    ),
    (
        "DR duplicate subset name",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: r, subsets: [{name: v1}, {name: v1}]}"
        ),
        "spec.subsets[1].name",
        "duplicate subset name",
    ),
    (
        "DR unknown load balancer",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: r, trafficPolicy: {loadBalancer: {simple: FASTEST}}}"
        ),
        "spec.trafficPolicy.loadBalancer.simple",
        "Unsupported value",
    ),
    (
        "Gateway without servers",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g}\nspec: {selector: {istio: ingressgateway}}"
        ),
        "spec.servers",
        "gateway must have at least one server",
    ),
    (
        "Gateway server without hosts",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g}\nspec: {servers: [{port: {number: 80, name: http, protocol: HTTP}}]}"
        ),
        "spec.servers[0].hosts",
        "at least one host",
    ),
    (
        "ServiceEntry without hosts",
        yaml.safe_load(
            "apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata: {name: s}\nspec: {ports: [{number: 80}]}"
        ),
        "spec.hosts",
        "at least one host",
    ),
]


@pytest.mark.parametrize(("name", "obj", "field", "fragment"), REFUSED, ids=[c[0] for c in REFUSED])
def test_webhook_refuses(name: str, obj: dict, field: str, fragment: str) -> None:
    errors = validate(obj)
    assert any(e.field == field and fragment in e.message for e in errors), errors


def test_10_strict_mode_requires_weights_to_sum_to_100() -> None:
    obj = vs(
        "  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 50\n"
        "    - destination: {host: reviews, subset: v3}\n      weight: 40\n"
    )
    assert validate(obj) == []
    errors = validate(obj, options=MeshOptions(strict_weight_sum=True))
    assert [e.message for e in errors] == ["total destination weight 90 != 100"]


SEED_SAMPLES = """
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: bookinfo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: bookinfo}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match:
    - uri: {exact: /productpage}
    - uri: {prefix: /static}
    - uri: {exact: /login}
    - uri: {exact: /logout}
    - uri: {prefix: /api/v1/products}
    route:
    - destination: {host: productpage, port: {number: 9080}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    outlierDetection: {consecutiveErrors: 5, interval: 10s, baseEjectionTime: 30s}
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v3}
      weight: 50
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-mirror}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 100
    mirror: {host: reviews, subset: v2}
    mirror_percent: 100
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    fault:
      delay: {percentage: {value: 100.0}, fixedDelay: 7s}
    route:
    - destination: {host: ratings, subset: v1}
  - fault:
      delay: {percent: 100, fixedDelay: 500ms}
      abort: {httpStatus: 500, percentage: {value: 100}}
    route:
    - destination: {host: ratings, subset: v1}
    mirrorPercent: 50
    mirror: {host: ratings}
    retries: {attempts: 3, perTryTimeout: 1.5s, retryOn: "5xx,connect-failure"}
    timeout: 1m
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews-route}
spec:
  hosts: [reviews.prod.svc.cluster.local]
  http:
  - name: reviews-v2-routes
    match:
    - uri: {prefix: /wpcatalog}
    - uri: {prefix: /consumercatalog}
    rewrite: {uri: /newcatalog}
    route:
    - destination: {host: reviews.prod.svc.cluster.local, subset: v2}
  - name: reviews-v1-route
    route:
    - destination: {host: reviews.prod.svc.cluster.local, subset: v1}
"""


@pytest.mark.parametrize(
    "obj",
    list(yaml.safe_load_all(SEED_SAMPLES)),
    ids=lambda o: (
        f"27: valid sample {o['apiVersion'].split('/')[1]} {o['kind']} {o['metadata']['name']} is admitted"
    ),
)
def test_webhook_admits_bookinfo_samples(obj: dict) -> None:
    assert validate(obj) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7s", 7.0), ("500ms", 0.5), ("1.5s", 1.5), ("1m", 60.0), ("1h30m", 5400.0)],
    ids=["duration 7s", "duration 500ms", "duration 1.5s", "duration 1m", "duration 1h30m"],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_non_istio_objects_are_not_checked_here() -> None:
    assert validate({"apiVersion": "v1", "kind": "Service", "spec": {"weird": 1}}) == []
