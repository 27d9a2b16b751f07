"""Data-plane behaviour that needs more than one request: balancing, retries, timeouts, mirrors, gateway, metrics.

Ids start with the fidelity-checklist item. Statistical assertions state their bound; all runs use seeded RNGs.
"""

# ruff: noqa: E501 - table rows carry inline YAML; wrapping them would hide the config under test

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest
from mesh_support import DR_REVIEWS, Behaviour, Lab, bodies, docs, endpoint, service

from harness.envoy import flag_for
from harness.lab.http import HttpRequest, HttpResponse

SPLIT_80_20 = (
    DR_REVIEWS
    + """---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
"""
)


def _binomial_bound(n: int, p: float) -> float:
    """Half-width of a two-sided band with failure probability < 1e-6 (Hoeffding: 2 exp(-2 t^2 / n))."""
    return math.sqrt(n * math.log(2 / 1e-6) / 2)


def _versions(responses: list[HttpResponse]) -> Counter[str]:
    return Counter(b.split("-")[1] for b in bodies(responses))


def _vs(http: str, extra: str = "", dr: str = DR_REVIEWS) -> str:
    return (
        dr
        + f"""---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews]
{extra}  http:
{http}"""
    )


# ---------------------------------------------------------------------------------------------- 4, 10, 11, 13


def test_4_uninjected_caller_ignores_the_vs_and_emits_no_metrics() -> None:
    lab = Lab(extra_pods=[endpoint("sleep-a", app="sleep", port=9200, injected=False)])
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v1}\n"))
    seen = _versions(lab.calls(300, caller="sleep-a"))
    assert set(seen) == {"v1", "v2", "v3"}
    assert lab.counters(reporter="source", source_workload="sleep-v1") == 0
    # The injected callee still reports, with an unknown source and no mTLS.
    assert (
        lab.counters(reporter="destination", source_workload="unknown", connection_security_policy="none")
        == 300
    )


def test_10_11_weights_are_proportional_and_random_per_request() -> None:
    n = 4000
    lab = Lab()
    lab.apply(SPLIT_80_20)
    seq = bodies(lab.calls(n))
    v2 = sum(b.startswith("reviews-v2") for b in seq)
    assert abs(v2 - 0.2 * n) < _binomial_bound(n, 0.2)  # P(fail) < 1e-6 by Hoeffding
    # Not round-robin: a deterministic 4:1 cycle would put v2 exactly every 5th call.
    assert [i for i, b in enumerate(seq[:50]) if b.startswith("reviews-v2")] != list(range(4, 50, 5))


def test_11_same_seed_same_sequence() -> None:
    runs = []
    for _ in range(2):
        lab = Lab(seed=42)
        lab.apply(SPLIT_80_20)
        runs.append(bodies(lab.calls(100)))
    assert runs[0] == runs[1]


def test_13_no_vs_balances_per_endpoint_not_per_version() -> None:
    n = 4000
    lab = Lab(extra_pods=[endpoint("reviews-v2-b", version="v2", port=9007)])
    seen = _versions(lab.calls(n))
    bound = _binomial_bound(n, 0.5)
    assert abs(seen["v2"] - n / 2) < bound  # 2 of 4 pods -> 50%, P(fail) < 1e-6
    assert abs(seen["v1"] - n / 4) < bound


def test_13_round_robin_selectable_cycles_over_pods() -> None:
    lab = Lab()
    lab.apply(
        DR_REVIEWS.replace(
            "  subsets:", "  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n  subsets:"
        )
    )
    seq = bodies(lab.calls(9))
    assert seq[:3] == seq[3:6] == seq[6:9] and len(set(seq[:3])) == 3


def test_13_least_request_avoids_the_busy_endpoint() -> None:
    lab = Lab()
    lab.behaviour["reviews-v1-a"] = Behaviour(delay_s=0.5, delay_path="/slow")

    async def scenario() -> list[str]:
        slow = [asyncio.create_task(lab.call("http://reviews:9080/slow")) for _ in range(6)]
        await asyncio.sleep(0.05)  # the slow calls that landed on v1 are now in flight
        busy = sum(1 for p, _ in lab.received if p == "reviews-v1-a")
        assert busy >= 1  # seed 7 puts at least one there (deterministic)
        fast = [await lab.call("http://reviews:9080/y") for _ in range(40)]
        await asyncio.gather(*slow)
        return bodies(fast)

    fast = lab.run(scenario())
    # P2C never picks the busy host unless both choices are it; with 2 idle hosts of 3 that is 1/9 per call.
    assert Counter(fast)["reviews-v1-a"] <= 16  # P(binomial(40, 1/9) > 16) = 4.2e-7


def test_14_subset_balances_only_over_its_pods_with_dr_lb() -> None:
    lab = Lab(extra_pods=[endpoint("reviews-v2-b", version="v2", port=9007)])
    dr = DR_REVIEWS.replace(
        "  subsets:", "  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n  subsets:"
    )
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v2}\n", dr=dr))
    seq = bodies(lab.calls(10))
    assert set(seq) == {"reviews-v2-a", "reviews-v2-b"}
    assert all(a != b for a, b in itertools.pairwise(seq))  # round robin alternates


def _overflow_count(lab: Lab, concurrency: int) -> tuple[int, set[str | None]]:
    lab.behaviour["reviews-v2-a"] = Behaviour(delay_s=0.2)

    async def burst() -> list[HttpResponse]:
        return await asyncio.gather(*[lab.call("http://reviews:9080/x") for _ in range(concurrency)])

    responses = lab.run(burst())
    flags = {flag_for(r.status, r.body) for r in responses if r.status != 200}
    return sum(r.status == 503 for r in responses), flags


SUBSET_POOL_DR = """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 1}
        http: {http1MaxPendingRequests: 1}
"""


def test_15_subset_policy_applies_when_routed_to_the_subset() -> None:
    lab = Lab()
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v2}\n", dr=SUBSET_POOL_DR))
    overflowed, flags = _overflow_count(lab, 5)
    assert overflowed == 3 and flags == {"UO"}  # 1 connection + 1 pending, the rest fail fast


def test_15_subset_policy_does_not_apply_to_the_default_route() -> None:
    lab = Lab()
    lab.pods = {k: v for k, v in lab.pods.items() if not k.startswith(("reviews-v1", "reviews-v3"))}
    lab.apply(SUBSET_POOL_DR)
    overflowed, _ = _overflow_count(lab, 5)
    assert overflowed == 0


def test_15_subset_policy_replaces_fields_wholesale_keeping_other_top_level_fields() -> None:
    # The subset sets only connectionPool, so the top-level ROUND_ROBIN still balances the subset.
    lab = Lab(extra_pods=[endpoint("reviews-v2-b", version="v2", port=9007)])
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v2}\n", dr=SUBSET_POOL_DR))
    seq = bodies(lab.calls(6))
    assert all(a != b for a, b in itertools.pairwise(seq))


def test_16_first_top_level_traffic_policy_wins() -> None:
    lab = Lab()
    lab.apply(
        """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: a}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: b}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
"""
    )
    seq = bodies(lab.calls(9))
    assert seq[:3] == seq[3:6] == seq[6:9]


# ---------------------------------------------------------------------------------------------- 17


def test_17_oldest_mesh_vs_wins_with_ist0109() -> None:
    lab = Lab()
    newer = _vs("  - route:\n    - destination: {host: reviews, subset: v3}\n").replace(
        "name: reviews}", "name: b}"
    )
    older = _vs("  - route:\n    - destination: {host: reviews, subset: v1}\n", dr="").replace(
        "name: reviews}", "name: a}"
    )
    objects = [*lab.objects]
    new_docs = docs(newer)
    old_docs = docs(older)
    for d in old_docs:
        d["metadata"]["creationTimestamp"] = "2025-01-01T00:00:00Z"
    lab.set_objects(objects + new_docs + old_docs)
    assert set(bodies(lab.calls(10))) == {"reviews-v1-a"}
    assert any(w.startswith("IST0109") for w in lab.mesh.analyze())


GATEWAY = """
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: bookinfo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: PORT, name: http, protocol: HTTP}
    hosts: ["HOSTS"]
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
"""


def test_17_gateway_fragments_merge_with_catch_alls_last() -> None:
    lab = Lab()
    lab.apply(GATEWAY.replace("PORT", "80").replace("HOSTS", "*"))
    lab.apply(
        """
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: extra}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match:
    - uri: {prefix: /details}
    route:
    - destination: {host: details}
  - route:
    - destination: {host: ratings}
"""
    )

    async def probe() -> list[str]:
        return [(await lab.via_gateway(p)).body.decode() for p in ("/productpage", "/details/0", "/other")]

    assert lab.run(probe()) == ["productpage-v1-a", "details-v1-a", "ratings-v1-a"]


# ---------------------------------------------------------------------------------------------- 18, 19


def test_18_no_timeout_by_default_and_504_ut_when_set() -> None:
    lab = Lab()
    lab.behaviour["reviews-v1-a"] = Behaviour(delay_s=0.15)
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v1}\n"))
    assert lab.calls(1)[0].status == 200
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v1}\n    timeout: 50ms\n", dr=""))
    resp = lab.calls(1)[0]
    assert (resp.status, flag_for(resp.status, resp.body)) == (504, "UT")


RETRY_CASES: list[tuple[str, dict, str, Callable[[Lab], None], int, str | None, int]] = [
    # (id, options, vs http, setup, status, flag, attempts seen by pods)
    (
        "19: connect failure is retried on another host",
        {},
        "",
        lambda lab: lab.refuse("reviews-v1-a"),
        200,
        None,
        0,
    ),
    (
        "19: upstream 503 is retried by default in Istio <= 1.23",
        {},
        "",
        lambda lab: lab.behaviour.__setitem__("reviews-v1-a", Behaviour(status=503)),
        200,
        None,
        1,
    ),
    (
        "19: upstream 503 is not retried with retry_503=False (>= 1.24)",
        {"retry_503": False},
        "",
        lambda lab: lab.behaviour.__setitem__("reviews-v1-a", Behaviour(status=503)),
        503,
        None,
        1,
    ),
    (
        "19: attempts 0 disables retries: a refused connection gives 503 UF",
        {},
        "    retries: {attempts: 0}\n",
        lambda lab: lab.refuse("reviews-v1-a"),
        503,
        "UF",
        0,
    ),
]


@pytest.mark.parametrize("case", RETRY_CASES, ids=[c[0] for c in RETRY_CASES])
def test_19_retries(case: tuple) -> None:
    _, opts, retries, setup, status, flag, seen = case
    from harness.lab.mesh import MeshOptions

    lab = Lab(options=MeshOptions(retry_backoff_base_s=0.0, **opts))
    lab.apply(
        DR_REVIEWS.replace("{name: v1, labels: {version: v1}}", "{name: v1, labels: {app: reviews}}")
        .replace("  subsets:", "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets:")
        .replace("- {name: v2, labels: {version: v2}}\n  - {name: v3, labels: {version: v3}}", "")
    )
    lab.pods = {k: v for k, v in lab.pods.items() if not k.startswith("reviews-v3")}
    extra = docs(_vs("  - route:\n    - destination: {host: reviews}\n" + retries, dr="")) if retries else []
    lab.set_objects(lab.objects + extra)
    setup(lab)
    resp = lab.calls(1)[0]  # round robin: the first attempt goes to reviews-v1-a
    assert resp.status == status
    assert flag_for(resp.status, resp.body) == flag
    if status == 200:
        assert resp.body == b"reviews-v2-a"  # previous_hosts: the retry went elsewhere
    assert sum(1 for p, _ in lab.received if p == "reviews-v1-a") == seen


def test_19_all_hosts_refusing_gives_503_urx_after_3_attempts() -> None:
    lab = Lab()
    for p in ("reviews-v1-a", "reviews-v2-a", "reviews-v3-a"):
        lab.refuse(p)
    resp = lab.calls(1)[0]
    assert (resp.status, flag_for(resp.status, resp.body)) == (503, "UF")  # body reads UF; the log says URX
    assert "URX" in lab.mesh.access_log("productpage-v1-a")[-1]


def test_19_per_try_timeout_with_retry_on_5xx_moves_to_another_host() -> None:
    lab = Lab()
    lab.behaviour["reviews-v1-a"] = Behaviour(delay_s=0.5)
    lab.apply(
        DR_REVIEWS.replace("  subsets:", "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets:")
    )
    lab.apply(
        _vs(
            "  - route:\n    - destination: {host: reviews}\n"
            "    retries: {attempts: 2, perTryTimeout: 50ms, retryOn: 5xx}\n",
            dr="",
        )
    )
    start = time.monotonic()
    resp = lab.calls(1)[0]
    assert resp.status == 200 and resp.body.decode() != "reviews-v1-a"
    assert time.monotonic() - start < 0.4


# ---------------------------------------------------------------------------------------------- 20, 21


def test_20_fault_abort_is_never_retried_and_never_reaches_the_pod() -> None:
    lab = Lab()
    lab.apply(
        _vs(
            "  - fault:\n      abort: {httpStatus: 503, percentage: {value: 100}}\n"
            "    route:\n    - destination: {host: reviews, subset: v1}\n"
        )
    )
    resp = lab.calls(1)[0]
    assert (resp.status, resp.body) == (503, b"fault filter abort")
    assert not any(p.startswith("reviews") for p, _ in lab.received)
    assert lab.counters(reporter="source", response_flags="FI", response_code="503") == 1


DELAY_CASES = [
    ("20: delay at percentage 100 sleeps then forwards (DI)", "percentage: {value: 100}", True),
    ("21: deprecated int percent 100 is accepted", "percent: 100", True),
    ("21: a missing delay percentage means 0%", "", False),
]


@pytest.mark.parametrize(("name", "pct", "delayed"), DELAY_CASES, ids=[c[0] for c in DELAY_CASES])
def test_20_21_delay(name: str, pct: str, delayed: bool) -> None:
    lab = Lab()
    lab.apply(
        _vs(
            f"  - fault:\n      delay: {{fixedDelay: 0.2s, {pct}}}\n".replace(", }", "}")
            + "    route:\n    - destination: {host: reviews, subset: v1}\n"
        )
    )
    start = time.monotonic()
    resp = lab.calls(1)[0]
    elapsed = time.monotonic() - start
    assert resp.status == 200 and resp.body == b"reviews-v1-a"
    assert (elapsed >= 0.2) is delayed
    assert (lab.counters(reporter="source", response_flags="DI") == 1) is delayed


def test_20_delay_and_abort_are_independent_delay_then_abort() -> None:
    lab = Lab()
    lab.apply(
        _vs(
            "  - fault:\n      delay: {fixedDelay: 0.1s, percentage: {value: 100}}\n"
            "      abort: {httpStatus: 500, percentage: {value: 100}}\n"
            "    route:\n    - destination: {host: reviews, subset: v1}\n"
        )
    )
    start = time.monotonic()
    resp = lab.calls(1)[0]
    assert resp.status == 500 and time.monotonic() - start >= 0.1
    assert lab.counters(reporter="source", response_flags="DI,FI") == 1


def test_20_ratings_delay_7s_for_jason_as_in_the_sample_skips_others() -> None:
    lab = Lab()
    lab.apply(
        """
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    fault:
      delay: {percentage: {value: 100.0}, fixedDelay: 7s}
    route:
    - destination: {host: ratings, subset: v1}
  - route:
    - destination: {host: ratings, subset: v1}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
"""
    )

    async def probe() -> tuple[int, type[BaseException] | None]:
        ok = await lab.call("http://ratings:9080/ratings/0", caller="reviews-v2-a")
        try:
            await lab.call(
                "http://ratings:9080/ratings/0",
                caller="reviews-v2-a",
                headers={"end-user": "jason"},
                timeout_s=0.1,
            )
        except Exception as exc:
            return ok.status, type(exc)
        return ok.status, None

    from harness.lab.http import UpstreamError

    assert lab.run(probe()) == (200, UpstreamError)  # the app's own timeout fires before the 7 s delay
    assert "DC" in lab.mesh.access_log("reviews-v2-a")[-1]


# ---------------------------------------------------------------------------------------------- 22, 23, 26


MIRROR_CASES = [
    ("22: absent mirrorPercentage mirrors 100%", "    mirror: {host: reviews, subset: v2}\n", 20),
    (
        "22: explicit mirrorPercentage 0 mirrors nothing",
        "    mirror: {host: reviews, subset: v2}\n    mirrorPercentage: {value: 0}\n",
        0,
    ),
    (
        "22: legacy mirror_percent 100 is accepted",
        "    mirror: {host: reviews, subset: v2}\n    mirror_percent: 100\n",
        20,
    ),
    (
        "22: mirrors[] without percentage mirrors 100%",
        "    mirrors:\n    - destination: {host: reviews, subset: v2}\n",
        20,
    ),
]


@pytest.mark.parametrize(("name", "mirror", "expected"), MIRROR_CASES, ids=[c[0] for c in MIRROR_CASES])
def test_22_mirror_percentages(name: str, mirror: str, expected: int) -> None:
    lab = Lab()
    lab.apply(_vs("  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 100\n" + mirror))
    responses = lab.calls(20)
    assert set(bodies(responses)) == {"reviews-v1-a"}
    assert sum(1 for p, _ in lab.received if p == "reviews-v2-a") == expected


def test_22_26_mirror_is_fire_and_forget_and_only_destination_reported() -> None:
    lab = Lab()
    lab.behaviour["reviews-v2-a"] = Behaviour(status=500, delay_s=0.3)
    lab.apply(
        _vs(
            "  - route:\n    - destination: {host: reviews, subset: v1}\n    mirror: {host: reviews, subset: v2}\n"
        )
    )

    async def probe() -> tuple[HttpResponse, float]:
        start = time.monotonic()
        resp = await lab.call("http://reviews:9080/reviews/0")
        return resp, time.monotonic() - start

    resp, elapsed = lab.run(probe())  # Lab.run drains the mirror afterwards
    assert resp.status == 200 and resp.body == b"reviews-v1-a" and elapsed < 0.25
    assert (
        lab.counters(
            reporter="destination", destination_workload="reviews-v2", destination_service_name="reviews"
        )
        == 1
    )
    assert lab.counters(reporter="source", destination_workload="reviews-v2") == 0
    assert lab.counters(reporter="source", destination_workload="reviews-v1") == 1


@pytest.mark.parametrize(
    ("suffix", "host"),
    [(True, "reviews-shadow:9080"), (False, "reviews:9080")],
    ids=["23: pre-1.28 mirrored Host gets -shadow before the port", "23: 1.28+ flag turns the suffix off"],
)
def test_23_shadow_host(suffix: bool, host: str) -> None:
    from harness.lab.mesh import MeshOptions

    lab = Lab(options=MeshOptions(shadow_host_suffix=suffix, retry_backoff_base_s=0))
    lab.apply(
        _vs(
            "  - route:\n    - destination: {host: reviews, subset: v1}\n    mirror: {host: reviews, subset: v2}\n"
        )
    )
    lab.calls(1)
    assert [r.headers["host"] for p, r in lab.received if p == "reviews-v2-a"] == [host]


# ---------------------------------------------------------------------------------------------- 24

REWRITE_CASES = [
    (
        "24: prefix rewrite replaces the matched prefix",
        "  - match:\n    - uri: {prefix: /wpcatalog}\n    rewrite: {uri: /newcatalog}\n"
        "    route:\n    - destination: {host: reviews, subset: v2}\n",
        "/wpcatalog/x?q=1",
        "/newcatalog/x?q=1",
        "reviews:9080",
    ),
    (
        "24: exact-match rewrite replaces the whole path",
        "  - match:\n    - uri: {exact: /old}\n    rewrite: {uri: /new/page}\n"
        "    route:\n    - destination: {host: reviews, subset: v2}\n",
        "/old",
        "/new/page",
        "reviews:9080",
    ),
    (
        "24: authority rewrite sets Host",
        "  - rewrite: {authority: reviews.internal}\n    route:\n    - destination: {host: reviews, subset: v2}\n",
        "/a",
        "/a",
        "reviews.internal",
    ),
]


@pytest.mark.parametrize(
    ("name", "http", "path", "seen_path", "seen_host"), REWRITE_CASES, ids=[c[0] for c in REWRITE_CASES]
)
def test_24_rewrite(name: str, http: str, path: str, seen_path: str, seen_host: str) -> None:
    lab = Lab()
    lab.apply(_vs(http))
    lab.calls(1, f"http://reviews:9080{path}")
    (pod, req) = next((p, r) for p, r in lab.received if p.startswith("reviews"))
    assert (pod, req.path, req.headers["host"]) == ("reviews-v2-a", seen_path, seen_host)


@pytest.mark.parametrize(
    ("redirect", "status", "location"),
    [
        ("{uri: /v1/bookRatings}", 301, "http://reviews:9080/v1/bookRatings"),
        (
            "{uri: /x, authority: newratings.default.svc.cluster.local, redirectCode: 308}",
            308,
            "http://newratings.default.svc.cluster.local/x",
        ),
    ],
    ids=[
        "24: redirect defaults to 301 with the original authority",
        "24: redirectCode and authority override",
    ],
)
def test_24_redirect(redirect: str, status: int, location: str) -> None:
    lab = Lab()
    lab.apply(_vs(f"  - redirect: {redirect}\n"))
    resp = lab.calls(1, "http://reviews:9080/ratings")[0]
    assert (resp.status, resp.header("location")) == (status, location)
    assert not any(p.startswith("reviews") for p, _ in lab.received)


def test_24_header_operations_route_then_destination_level() -> None:
    lab = Lab()
    lab.apply(
        _vs(
            """  - headers:
      request:
        set: {x-route: r, x-both: route}
        add: {x-added: a}
        remove: [x-drop]
      response:
        set: {x-resp: ok}
        remove: [content-type]
    route:
    - destination: {host: reviews, subset: v2}
      headers:
        request: {set: {x-both: destination}}
        response: {add: {x-dest: d}}
"""
        )
    )
    resp = lab.calls(1, headers={"x-drop": "1", "x-added": "z"})[0]
    req = next(r for p, r in lab.received if p == "reviews-v2-a")
    assert (req.headers["x-route"], req.headers["x-both"], req.headers["x-added"]) == (
        "r",
        "destination",
        "z,a",
    )
    assert "x-drop" not in req.headers
    assert (resp.header("x-resp"), resp.header("x-dest"), resp.header("content-type")) == ("ok", "d", None)


# ---------------------------------------------------------------------------------------------- 25


GATEWAY_CASES = [
    (
        "25: server port 80 binds (service port -> targetPort 8080)",
        "80",
        "*",
        "bookinfo.example",
        "/productpage",
        200,
    ),
    ("25: server port 8080 binds", "8080", "*", "bookinfo.example", "/productpage", 200),
    ("25: another port does not bind -> 404 NR", "9999", "*", "bookinfo.example", "/productpage", 404),
    ("25: unmatched Host -> 404 NR", "80", "bookinfo.com", "other.example", "/productpage", 404),
    ("25: matched Host with port", "80", "bookinfo.com", "bookinfo.com:8080", "/productpage", 200),
    ("25: path not exposed by the bookinfo VS -> 404 NR", "80", "*", "x", "/health", 404),
]


@pytest.mark.parametrize(
    ("name", "port", "hosts", "host", "path", "status"), GATEWAY_CASES, ids=[c[0] for c in GATEWAY_CASES]
)
def test_25_gateway(name: str, port: str, hosts: str, host: str, path: str, status: int) -> None:
    lab = Lab()
    lab.apply(GATEWAY.replace("PORT", port).replace("HOSTS", hosts))
    resp = lab.run(lab.via_gateway(path, host=host))
    assert resp.status == status
    if status == 404:
        assert flag_for(resp.status, resp.body) == "NR"
    else:
        assert resp.body == b"productpage-v1-a"


def test_25_unbound_gateway_vs_and_mesh_subsets_do_not_affect_ingress() -> None:
    lab = Lab(extra_pods=[endpoint("productpage-v2-a", app="productpage", version="v2", port=9008)])
    lab.apply(GATEWAY.replace("PORT", "80").replace("HOSTS", "*"))
    lab.apply(
        """
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: productpage}
spec:
  hosts: [productpage]
  http:
  - route:
    - destination: {host: productpage, subset: v1}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: productpage}
spec:
  host: productpage
  subsets:
  - {name: v1, labels: {version: v1}}
"""
    )

    async def probe() -> list[str]:
        return [(await lab.via_gateway("/productpage")).body.decode() for _ in range(60)]

    assert set(lab.run(probe())) == {"productpage-v1-a", "productpage-v2-a"}  # P(miss one) = 2 * 2^-60


# ---------------------------------------------------------------------------------------------- 26 + logs


def test_26_metric_labels_source_and_destination() -> None:
    lab = Lab()
    lab.apply(GATEWAY.replace("PORT", "80").replace("HOSTS", "*"))
    lab.run(lab.via_gateway("/productpage"))
    lab.calls(1, "http://details:9080/details/0")
    counters = {tuple(sorted(k)): v for k, v in lab.telemetry.counters().items()}
    gw = [dict(k) for k in counters if dict(k)["source_workload"] == "istio-ingressgateway"]
    assert {d["reporter"] for d in gw} == {"source", "destination"}
    src = next(d for d in gw if d["reporter"] == "source")
    assert src["source_workload_namespace"] == "istio-system"
    assert src["destination_service"] == "productpage.default.svc.cluster.local"
    assert src["connection_security_policy"] == "unknown" and src["response_flags"] == "-"
    dst = next(
        dict(k)
        for k in counters
        if dict(k)["destination_app"] == "details" and dict(k)["reporter"] == "destination"
    )
    assert dst["source_principal"] == "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
    assert dst["destination_principal"] == "spiffe://cluster.local/ns/default/sa/bookinfo-details"
    assert dst["connection_security_policy"] == "mutual_tls"
    assert (dst["destination_version"], dst["request_protocol"], dst["grpc_response_status"]) == (
        "v1",
        "http",
        "",
    )
    text = lab.telemetry.render()
    assert "# TYPE istio_requests_total counter" in text
    assert 'le="3600000"' in text and "istio_request_duration_milliseconds_count" in text


def test_access_log_and_trace_headers_share_one_trace() -> None:
    lab = Lab()
    spans: list[dict] = []
    lab.mesh.on_span = spans.append
    lab.calls(1, "http://details:9080/details/0", headers={"user-agent": "python-httpx/0.28"})
    out = lab.mesh.access_log("productpage-v1-a")[-1]
    inbound = lab.mesh.access_log("details-v1-a")[-1]
    assert '"GET /details/0 HTTP/1.1" 200 - via_upstream' in out
    assert "outbound|9080||details.default.svc.cluster.local" in out and '"python-httpx/0.28"' in out
    assert "inbound|9080||" in inbound
    req = lab.received[-1][1]
    assert req.headers["x-request-id"] in out and "x-envoy-peer-metadata-id" not in req.headers
    assert len({s["trace_id"] for s in spans}) == 1 and len({s["span_id"] for s in spans}) == 2
    assert spans[0]["parent_id"] == spans[1]["span_id"]  # the server span is a child of the client span


def test_access_log_lines_leave_the_garbage_collectors_lists() -> None:
    # 10,000 lines per proxy that stayed tracked would lengthen every full collection: the lab's latency tail
    lab = Lab()
    lab.calls(3, "http://details:9080/details/0")
    gc.collect()
    held = list(lab.mesh._logs["details-v1-a"])
    assert len(held) == 3 and not any(gc.is_tracked(fields) for fields in held)


def test_outlier_detection_ejects_after_consecutive_5xx() -> None:
    lab = Lab()
    lab.behaviour["reviews-v1-a"] = Behaviour(status=500)
    lab.apply(
        DR_REVIEWS.replace(
            "  subsets:",
            "  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n"
            "    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 30s, maxEjectionPercent: 100}\n"
            "  subsets:",
        )
    )
    first = bodies(lab.calls(9))
    assert first.count("reviews-v1-a") == 2  # two 500s, then ejected
    lab.now += 31  # base ejection time elapsed
    assert "reviews-v1-a" in bodies(lab.calls(3))


def test_real_sockets_with_aiohttp_transport() -> None:
    from aiohttp import web

    from harness.lab.mesh import AiohttpTransport, Mesh, Telemetry

    async def scenario() -> tuple[int, bytes, str]:
        pods = [endpoint("reviews-v1-a", port=0), endpoint("productpage-v1-a", port=0)]
        transport = AiohttpTransport()
        mesh = Mesh(rng=random.Random(1), telemetry=Telemetry(), transport=transport)

        async def app(request: HttpRequest) -> HttpResponse:
            return HttpResponse(
                200, [("content-type", "text/plain")], f"hello {request.headers['host']}".encode()
            )

        reviews_handler = mesh.inbound(pods[0], app)

        async def low_level(request: web.BaseRequest) -> web.Response:
            req = HttpRequest(
                request.method,
                request.path_qs,
                {k.lower(): v for k, v in request.headers.items()},
                await request.read(),
            )
            resp = await reviews_handler(req)
            return web.Response(status=resp.status, body=resp.body, headers=resp.headers)

        server = web.Server(low_level)
        runner = web.ServerRunner(server)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            live = [endpoint("reviews-v1-a", port=port), pods[1]]
            mesh.update([service("reviews"), service("productpage")], live)
            up = mesh.outbound(live[1])
            first = await up.request("GET", "http://reviews:9080/reviews/0", headers={})
            await up.request("GET", "http://reviews:9080/reviews/0", headers={})
            return first.status, first.body, mesh.access_log("productpage-v1-a")[-1]
        finally:
            await transport.close()
            await runner.cleanup()

    status, body, log = asyncio.run(scenario())
    assert (status, body) == (200, b"hello reviews:9080")
    assert "outbound|9080||reviews.default.svc.cluster.local" in log
