"""Routing semantics, one table row per behaviour; ids start with the fidelity-checklist item they cover.

Every call goes through the real data plane (sidecar outbound -> MemoryTransport -> inbound -> echo pod), so the
assertions are on what a client observes: status, Envoy flag (harness.envoy.flag_for), and which pod answered.
"""

# ruff: noqa: E501 - table rows carry inline YAML; wrapping them would hide the config under test

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from mesh_support import DR_REVIEWS, Lab

from harness.envoy import flag_for


@dataclass(frozen=True)
class Case:
    name: str
    config: str
    url: str = "http://reviews:9080/reviews/0"
    headers: dict[str, str] = field(default_factory=dict)
    caller: str = "productpage-v1-a"
    status: int = 200
    flag: str | None = None
    pod: str | None = None  # prefix of the answering pod's name
    repeat: int = 20  # all calls must satisfy the expectation
    namespace: str = "default"


VS_REVIEWS_V2 = (
    DR_REVIEWS
    + """---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
"""
)


def vs(http: str, hosts: str = "[reviews]", extra: str = "", name: str = "reviews") -> str:
    return (
        DR_REVIEWS
        + f"""---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: {name}}}
spec:
  hosts: {hosts}
{extra}  http:
{http}"""
    )


JASON_V2_ELSE_V3 = vs(
    """  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v3}
"""
)

CASES = [
    # 1: short names resolve in the resource's namespace
    Case("1: short VS host 'reviews' in default applies to reviews.default", VS_REVIEWS_V2, pod="reviews-v2"),
    Case(
        "1: a VS in namespace other with host 'reviews' means reviews.other, so default traffic is untouched",
        vs("  - route:\n    - destination: {host: reviews.default.svc.cluster.local, subset: v2}\n"),
        namespace="other",
        pod="reviews-",
        repeat=1,
    ),
    Case(
        "1: short destination host in another namespace's VS resolves there (unknown host -> 503 NC)",
        vs("  - route:\n    - destination: {host: reviews}\n", hosts="[reviews.default.svc.cluster.local]"),
        namespace="other",
        status=503,
        flag="NC",
    ),
    # 2: host forms on the sidecar
    Case("2: URL host reviews:9080", VS_REVIEWS_V2, url="http://reviews:9080/r", pod="reviews-v2"),
    Case(
        "2: URL host reviews.default:9080",
        VS_REVIEWS_V2,
        url="http://reviews.default:9080/r",
        pod="reviews-v2",
    ),
    Case(
        "2: URL host reviews.default.svc:9080",
        VS_REVIEWS_V2,
        url="http://reviews.default.svc:9080/r",
        pod="reviews-v2",
    ),
    Case(
        "2: URL host FQDN with port",
        VS_REVIEWS_V2,
        url="http://reviews.default.svc.cluster.local:9080/r",
        pod="reviews-v2",
    ),
    Case("2: Host header without port", VS_REVIEWS_V2, headers={"host": "reviews"}, pod="reviews-v2"),
    Case(
        "2: Host header reviews.default without port",
        VS_REVIEWS_V2,
        headers={"host": "reviews.default"},
        pod="reviews-v2",
    ),
    # 3: binding
    Case(
        "3: a VS bound only to a gateway does not affect sidecars",
        vs(
            "  - route:\n    - destination: {host: reviews, subset: v2}\n",
            extra="  gateways: [bookinfo-gateway]\n",
        ),
        pod="reviews-",
        repeat=1,
    ),
    Case(
        "3: a VS listing mesh and a gateway affects sidecars",
        vs(
            "  - route:\n    - destination: {host: reviews, subset: v2}\n",
            extra="  gateways: [bookinfo-gateway, mesh]\n",
        ),
        pod="reviews-v2",
    ),
    # 5: order, OR/AND
    Case(
        "5: first match wins (jason -> v2)", JASON_V2_ELSE_V3, headers={"end-user": "jason"}, pod="reviews-v2"
    ),
    Case("5: falls through to the catch-all (anonymous -> v3)", JASON_V2_ELSE_V3, pod="reviews-v3"),
    Case(
        "5: match blocks are ORed",
        vs(
            """  - match:
    - headers: {end-user: {exact: jason}}
    - uri: {prefix: /special}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v3}
""",
        ),
        url="http://reviews:9080/special/1",
        pod="reviews-v2",
    ),
    Case(
        "5: fields within a block are ANDed",
        vs(
            """  - match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /special}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v3}
""",
        ),
        headers={"end-user": "jason"},
        pod="reviews-v3",
    ),
    Case(
        "5: rules after a catch-all are unreachable",
        vs(
            """  - route:
    - destination: {host: reviews, subset: v1}
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
"""
        ),
        headers={"end-user": "jason"},
        pod="reviews-v1",
    ),
    # 6: NR
    Case(
        "6: a VS exists but nothing matches -> 404 NR, no default fallback",
        vs(
            "  - match:\n    - headers: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews}\n"
        ),
        status=404,
        flag="NR",
    ),
    # 7: URI
    Case(
        "7: exact ignores the query string",
        vs(
            "  - match:\n    - uri: {exact: /reviews/0}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        url="http://reviews:9080/reviews/0?x=1",
        pod="reviews-v2",
    ),
    Case(
        "7: prefix is a raw string prefix (/static matches /staticx)",
        vs(
            "  - match:\n    - uri: {prefix: /static}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        url="http://reviews:9080/staticx",
        pod="reviews-v2",
    ),
    Case(
        "7: regex must match the whole path",
        vs(
            "  - match:\n    - uri: {regex: '/rev'}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        url="http://reviews:9080/reviews/0",
        status=404,
        flag="NR",
    ),
    Case(
        "7: regex full match succeeds",
        vs(
            "  - match:\n    - uri: {regex: '/reviews/[0-9]+'}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        url="http://reviews:9080/reviews/42",
        pod="reviews-v2",
    ),
    Case(
        "7: ignoreUriCase makes prefix case-insensitive",
        vs(
            "  - match:\n    - uri: {prefix: /REVIEWS}\n      ignoreUriCase: true\n"
            "    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        pod="reviews-v2",
    ),
    Case(
        "7: without ignoreUriCase the prefix is case-sensitive",
        vs(
            "  - match:\n    - uri: {prefix: /REVIEWS}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        status=404,
        flag="NR",
    ),
    # 8: headers, query, method, authority
    Case(
        "8: header values are case-sensitive (Jason != jason)",
        JASON_V2_ELSE_V3,
        headers={"end-user": "Jason"},
        pod="reviews-v3",
    ),
    Case(
        "8: header names are matched lower-cased",
        JASON_V2_ELSE_V3,
        headers={"End-User": "jason"},
        pod="reviews-v2",
    ),
    Case(
        "8: {} means header present",
        vs(
            "  - match:\n    - headers: {x-canary: {}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        headers={"x-canary": "anything"},
        pod="reviews-v2",
    ),
    Case(
        "8: regex '*' means header present (absent -> next rule)",
        vs(
            "  - match:\n    - headers: {x-canary: {regex: '*'}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        pod="reviews-v1",
    ),
    Case(
        "8: withoutHeaders inverts the match",
        vs(
            "  - match:\n    - withoutHeaders: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        headers={"end-user": "jason"},
        pod="reviews-v1",
    ),
    Case(
        "8: withoutHeaders matches when the header is missing",
        vs(
            "  - match:\n    - withoutHeaders: {end-user: {exact: jason}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        pod="reviews-v2",
    ),
    Case(
        "8: queryParams regex is a full match (a123 does not match \\d+)",
        vs(
            "  - match:\n    - queryParams: {id: {regex: '\\d+'}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        url="http://reviews:9080/r?id=a123",
        pod="reviews-v1",
    ),
    Case(
        "8: queryParams exact match",
        vs(
            "  - match:\n    - queryParams: {u: {exact: test}}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        url="http://reviews:9080/r?u=test",
        pod="reviews-v2",
    ),
    Case(
        "8: method matches :method",
        vs(
            "  - match:\n    - method: {exact: POST}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        pod="reviews-v1",
    ),
    Case(
        "8: authority includes the port on sidecars",
        vs(
            "  - match:\n    - authority: {exact: 'reviews:9080'}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        pod="reviews-v2",
    ),
    # 9: selectors
    Case(
        "9: sourceLabels selecting the caller keeps the rule",
        vs(
            "  - match:\n    - sourceLabels: {app: productpage}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        pod="reviews-v2",
    ),
    Case(
        "9: sourceLabels excluding the caller removes the rule for that proxy",
        vs(
            "  - match:\n    - sourceLabels: {app: productpage}\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        caller="ratings-v1-a",
        pod="reviews-v1",
    ),
    Case(
        "9: a VS whose only rule is excluded for this proxy is skipped: default routing applies",
        vs(
            "  - match:\n    - sourceNamespace: elsewhere\n    route:\n    - destination: {host: reviews, subset: v2}\n"
        ),
        pod="reviews-",
        repeat=1,
    ),
    Case(
        "9: a match gateways: [bookinfo-gateway] block does not exist on sidecars",
        vs(
            "  - match:\n    - gateways: [bookinfo-gateway]\n    route:\n    - destination: {host: reviews, subset: v2}\n"
            "  - route:\n    - destination: {host: reviews, subset: v3}\n",
            extra="  gateways: [bookinfo-gateway, mesh]\n",
        ),
        pod="reviews-v3",
    ),
    # 10: weights
    Case(
        "10: a single destination ignores its weight",
        vs("  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 10\n"),
        pod="reviews-v2",
    ),
    Case(
        "10: weight 0 is dropped",
        vs(
            "  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n"
            "    - destination: {host: reviews, subset: v2}\n      weight: 0\n"
        ),
        pod="reviews-v1",
        repeat=200,
    ),
    # 12: failure modes
    Case(
        "12: subset missing from the DR -> 503 NC",
        vs("  - route:\n    - destination: {host: reviews, subset: v9}\n"),
        status=503,
        flag="NC",
    ),
    Case(
        "12: subset selecting no pods -> 503 UH no healthy upstream",
        DR_REVIEWS.replace(
            "{name: v3, labels: {version: v3}}",
            "{name: v3, labels: {version: v3}}\n  - {name: v4, labels: {version: v4}}",
        )
        + vs("  - route:\n    - destination: {host: reviews, subset: v4}\n").replace(DR_REVIEWS, "---\n"),
        status=503,
        flag="UH",
    ),
    Case(
        "12: destination host not in the registry -> 503 NC",
        vs("  - route:\n    - destination: {host: reviews.prod.svc.cluster.local}\n"),
        status=503,
        flag="NC",
    ),
    Case(
        "12: no DR at all and a subset route -> 503 NC",
        vs("  - route:\n    - destination: {host: reviews, subset: v1}\n").replace(DR_REVIEWS, ""),
        status=503,
        flag="NC",
    ),
    # 16: merged DRs
    Case(
        "16: merged DRs keep the first definition of a duplicate subset",
        """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews-a}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews-b}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v3}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
""",
        pod="reviews-v1",
    ),
    # 20/21: faults
    Case(
        "20: fault abort replies locally with the status and FI",
        vs(
            "  - fault:\n      abort: {httpStatus: 500, percentage: {value: 100}}\n    route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        status=500,
        flag="FI",
    ),
    Case(
        "20: abort 555 as in fault-injection-details-v1.yaml",
        vs(
            "  - fault:\n      abort: {httpStatus: 555, percentage: {value: 100.0}}\n    route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        status=555,
        flag="FI",
    ),
    Case(
        "21: a missing abort percentage means 0%",
        vs(
            "  - fault:\n      abort: {httpStatus: 500}\n    route:\n    - destination: {host: reviews, subset: v1}\n"
        ),
        pod="reviews-v1",
        repeat=50,
    ),
    # 24: direct response
    Case(
        "24: directResponse is a local reply",
        vs("  - directResponse: {status: 418, body: {string: teapot}}\n"),
        status=418,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_routing_table(case: Case) -> None:
    lab = Lab()
    lab.apply(case.config, namespace=case.namespace)
    responses = lab.calls(case.repeat, case.url, headers=case.headers, caller=case.caller)
    for resp in responses:
        assert resp.status == case.status, resp.body
        assert flag_for(resp.status, resp.body) == case.flag
        if case.pod is not None:
            assert resp.body.decode().startswith(case.pod)
