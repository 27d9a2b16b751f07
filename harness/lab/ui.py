"""The lab's live mesh view (a small Kiali): a topology graph with per-edge request and error rates.

`install(lab)` serves, on the lab's admin listener:

    GET /ui              the page: server-rendered graph, edge and pod tables, a ~40-line script that polls
    GET /ui/graph.json   the graph as data (nodes, edges, splits, pods) plus the same HTML fragments rendered
                         here, which the page swaps in every second

Everything comes from what the lab already exposes, as Kiali reads it from Prometheus:
`istio_requests_total` counters (`lab.telemetry`) give the edges; Pod objects (`lab.store`) give the
workloads and their sidecar state.

- An edge's count is what the calling proxy reported (reporter=source); a caller without a sidecar reports
  nothing, so its edges come from the destination's proxy (reporter=destination, source "unknown").
- Mirrored copies are fire-and-forget: the caller's proxy never reports them, the target's proxy does. So for
  an edge whose both ends have sidecars, reporter=destination minus reporter=source is the mirrored traffic,
  drawn as its own dashed edge (harness.metrics.mirror_count does the same arithmetic for verdicts).
- A destination without a sidecar has no workload identity in the counters (Istio reports "unknown"); such
  edges end at a node named after the service ("reviews (no sidecar)"), which is also what Kiali shows;
  requests Envoy answered itself for want of an upstream (flags UH, NR, NC) end at "reviews (no endpoint)".
- Rates are differences of the counters between the snapshot taken for this request and the newest snapshot
  at least `window_s` older (5 s by default; whatever is available right after the view opens), so they do
  not depend on how many pages poll or how often.
- Errors are responses with code 5xx or no response (code 0); 4xx are counted apart.

`build_graph` and the `render_*` functions are pure (counters and pod objects in, dicts and HTML out).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from harness.htmlreport import BASE_CSS, PALETTE
from harness.lab.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from harness.lab.lab import Lab

PREFIX = "/ui"
WINDOW_S = 5.0
HISTORY_S = 60.0
MIN_SNAPSHOT_GAP_S = 0.2
UNKNOWN = "unknown"
GATEWAY = "istio-ingressgateway"
# columns of the Bookinfo topology, left to right; other apps are placed one column after their callers
COLUMNS = {GATEWAY: 0, UNKNOWN: 0, "productpage": 1, "details": 2, "reviews": 2, "ratings": 3}
SYSTEM_WORKLOADS = {"istiod"}  # control plane: listed with the pods, not drawn
NODE_HALF_W = 84
MIRROR_SLACK = 3  # destination-minus-source counts below this are requests in flight, not mirrors

Counters = Mapping[tuple[tuple[str, str], ...], float]
EdgeKey = tuple[str, str, str]  # (source node, destination node, kind: "primary" | "mirror")


# ------------------------------------------------------------------------------------------------- model
@dataclass
class EdgeCount:
    """Cumulative counts of one edge."""

    requests: float = 0.0
    errors: float = 0.0  # 5xx and no response
    client_errors: float = 0.0  # 4xx
    service: str = ""

    def add(self, value: float, code: str) -> None:
        self.requests += value
        if code == "0" or code.startswith("5"):
            self.errors += value
        elif code.startswith("4"):
            self.client_errors += value


@dataclass
class _Pair:
    source: EdgeCount = field(default_factory=EdgeCount)  # reporter=source
    destination: EdgeCount = field(default_factory=EdgeCount)  # reporter=destination


NO_SIDECAR, NO_ENDPOINT = " (no sidecar)", " (no endpoint)"
NO_UPSTREAM_FLAGS = {"UH", "NR", "NC"}  # Envoy answered itself: no healthy upstream, no route, no cluster


def node_id(workload: str, service: str, flags: str = "-") -> str:
    """A workload's node; for an unknown destination workload a node named by service: "(no endpoint)"
    when Envoy found nothing to send to (flags UH, NR, NC), else "(no sidecar)" (Istio cannot name it)."""
    if workload and workload != UNKNOWN:
        return workload
    if service and service != UNKNOWN:
        if NO_UPSTREAM_FLAGS & set(flags.split(",")):
            return service + NO_ENDPOINT
        return service + NO_SIDECAR
    return UNKNOWN


def edge_counts(counters: Counters) -> dict[EdgeKey, EdgeCount]:
    """Per-edge cumulative counts from istio_requests_total label sets (see the module docstring)."""
    pairs: dict[tuple[str, str], _Pair] = {}
    for labels, value in counters.items():
        label = dict(labels)
        service = label.get("destination_service_name", "")
        src = node_id(label.get("source_workload", ""), "")
        dst = node_id(label.get("destination_workload", ""), service, label.get("response_flags", "-"))
        pair = pairs.setdefault((src, dst), _Pair())
        side = pair.source if label.get("reporter") == "source" else pair.destination
        side.add(value, label.get("response_code", ""))
        side.service = side.service or service
    out: dict[EdgeKey, EdgeCount] = {}
    for (src, dst), pair in pairs.items():
        s, d = pair.source, pair.destination
        service = s.service or d.service
        if src == UNKNOWN or (s.requests == 0 and d.requests == 0):
            # no proxy at the caller: only the destination saw these requests (never a mirror)
            if d.requests or s.requests:
                out[(src, dst, "primary")] = s if s.requests else d
            continue
        if s.requests:
            out[(src, dst, "primary")] = s
        both_sidecars = not dst.endswith((NO_SIDECAR, NO_ENDPOINT)) and dst != UNKNOWN
        mirrored = d.requests - s.requests
        if both_sidecars and mirrored >= MIRROR_SLACK:
            # copies keep their own status codes; attribute errors beyond the primaries' to the copies
            out[(src, dst, "mirror")] = EdgeCount(
                requests=mirrored,
                errors=max(d.errors - s.errors, 0.0),
                client_errors=max(d.client_errors - s.client_errors, 0.0),
                service=service,
            )
    return out


@dataclass(frozen=True)
class PodState:
    name: str
    namespace: str
    workload: str
    app: str
    version: str
    ready: str  # "2/2"
    phase: str
    sidecar: bool  # has an istio-proxy container
    reason: str  # waiting reason / message when not running

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "workload": self.workload,
            "app": self.app,
            "version": self.version,
            "ready": self.ready,
            "phase": self.phase,
            "sidecar": self.sidecar,
            "reason": self.reason,
        }

    @property
    def all_ready(self) -> bool:
        got, _, want = self.ready.partition("/")
        return self.phase == "Running" and got == want


def pod_state(pod: Mapping[str, Any]) -> PodState:
    meta = pod.get("metadata", {})
    labels = meta.get("labels") or {}
    name = meta.get("name", "")
    workload = labels.get("lab.bookinfo-harness.io/deployment") or ""
    if not workload:
        owners = meta.get("ownerReferences") or []
        workload = owners[0]["name"].rsplit("-", 1)[0] if owners else name.rsplit("-", 2)[0]
    containers = [c.get("name", "") for c in pod.get("spec", {}).get("containers", [])]
    status = pod.get("status", {}) or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = ""
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting:
            reason = waiting.get("reason", "") + (f": {waiting['message']}" if waiting.get("message") else "")
            break
    return PodState(
        name=name,
        namespace=meta.get("namespace", ""),
        workload=workload,
        app=labels.get("app", workload),
        version=labels.get("version", ""),
        ready=f"{ready}/{len(containers)}",
        phase=status.get("phase", "Pending"),
        sidecar="istio-proxy" in containers or labels.get("istio") == "ingressgateway",
        reason=reason,
    )


# ------------------------------------------------------------------------------------------------- graph
def _app_of(node: str, pods: Sequence[PodState]) -> str:
    for p in pods:
        if p.workload == node:
            return p.app
    for suffix in (NO_SIDECAR, NO_ENDPOINT):
        if node.endswith(suffix):
            return node[: -len(suffix)]
    return node.rsplit("-", 1)[0] if node.rsplit("-", 1)[-1][:1] == "v" else node


def _layout(nodes: dict[str, dict[str, Any]], edges: Iterable[EdgeKey]) -> tuple[int, int]:
    """Columns by app (the Bookinfo call graph), others one column after their callers; rows sorted."""
    col: dict[str, int] = {}
    for n, node in nodes.items():
        if node["app"] in COLUMNS:
            col[n] = COLUMNS[node["app"]]
    edges = list(edges)
    for _ in range(len(nodes)):
        changed = False
        for src, dst, _kind in edges:
            if dst not in col and src in col:
                col[dst] = col[src] + 1
                changed = True
        if not changed:
            break
    for n in nodes:
        col.setdefault(n, 2)
    columns: dict[int, list[str]] = {}
    for n in sorted(nodes, key=lambda n: (nodes[n]["app"], nodes[n]["version"], n)):
        columns.setdefault(col[n], []).append(n)
    xs = sorted(columns)
    height = max(len(v) for v in columns.values()) if columns else 1
    row_h, col_w, margin = 96, 320, NODE_HALF_W + 12
    for ci, c in enumerate(xs):
        members = columns[c]
        offset = (height - len(members)) * row_h / 2
        for ri, n in enumerate(members):
            nodes[n]["x"] = margin + ci * col_w
            nodes[n]["y"] = 56 + offset + ri * row_h
    return margin * 2 + (len(xs) - 1) * col_w, int(56 * 2 + (height - 1) * row_h)


def build_graph(
    totals: Mapping[EdgeKey, EdgeCount],
    base: Mapping[EdgeKey, EdgeCount] | None,
    window_s: float,
    pods: Sequence[PodState],
) -> dict[str, Any]:
    """The view's data: nodes (with pods, sidecar state, split share), edges (rates, error rates), splits."""
    nodes: dict[str, dict[str, Any]] = {}
    shown_pods = [p for p in pods if p.workload not in SYSTEM_WORKLOADS]

    def node(n: str) -> dict[str, Any]:
        if n not in nodes:
            mine = [p for p in shown_pods if p.workload == n]
            version = mine[0].version if mine else ""
            nodes[n] = {
                "id": n,
                "app": _app_of(n, shown_pods),
                "version": version,
                "pods": [p.to_json() for p in mine],
                "sidecar": "all"
                if mine and all(p.sidecar for p in mine)
                else ("some" if any(p.sidecar for p in mine) else "none"),
                "ready": f"{sum(p.all_ready for p in mine)}/{len(mine)}",
                "share": None,
            }
        return nodes[n]

    for p in shown_pods:
        node(p.workload)
    edges: list[dict[str, Any]] = []
    for (src, dst, kind), count in sorted(totals.items()):
        node(src)
        node(dst)
        prev = (base or {}).get((src, dst, kind), EdgeCount())
        d_req = max(count.requests - prev.requests, 0.0)
        d_err = max(count.errors - prev.errors, 0.0)
        rate = d_req / window_s if window_s > 0 else 0.0
        edges.append(
            {
                "source": src,
                "destination": dst,
                "kind": kind,
                "service": count.service,
                "total": count.requests,
                "errors_total": count.errors,
                "client_errors_total": count.client_errors,
                "rps": round(rate, 3),
                "error_rate": round(d_err / d_req, 4)
                if d_req
                else (round(count.errors / count.requests, 4) if count.requests and not window_s else 0.0),
                "error_share_total": round(count.errors / count.requests, 4) if count.requests else 0.0,
                "share": None,
            }
        )
    # splits: a service served by several workloads, primary traffic only (mirrors are copies)
    splits: dict[str, dict[str, Any]] = {}
    by_service: dict[str, list[dict[str, Any]]] = {}
    for e in edges:
        if e["kind"] == "primary" and e["service"]:
            by_service.setdefault(e["service"], []).append(e)
    apps: dict[str, int] = {}
    for n in nodes.values():
        apps[n["app"]] = apps.get(n["app"], 0) + 1
    for service, group in sorted(by_service.items()):
        dests = sorted({e["destination"] for e in group})
        if len(dests) < 2 and apps.get(service, 0) < 2:
            continue
        window = {d: sum(e["rps"] for e in group if e["destination"] == d) for d in dests}
        total = {d: sum(e["total"] for e in group if e["destination"] == d) for d in dests}
        w_sum, t_sum = sum(window.values()), sum(total.values())
        split = {
            "window": {d: round(v / w_sum, 4) for d, v in window.items()} if w_sum else {},
            "total": {d: round(v / t_sum, 4) for d, v in total.items()} if t_sum else {},
            "requests": t_sum,
        }
        splits[service] = split
        shares = split["window"] or split["total"]
        for d in dests:
            nodes[d]["share"] = shares.get(d)
        for e in group:
            e["share"] = shares.get(e["destination"])
    width, height = _layout(nodes, [(e["source"], e["destination"], e["kind"]) for e in edges])
    return {
        "window_s": round(window_s, 3),
        "nodes": list(nodes.values()),
        "edges": edges,
        "splits": splits,
        "pods": [p.to_json() for p in pods],
        "size": [width, height],
    }


# ----------------------------------------------------------------------------------------------- render
def _fmt_rate(rps: float) -> str:
    return f"{rps:.1f} rps" if rps < 100 else f"{rps:.0f} rps"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _edge_label(e: Mapping[str, Any]) -> str:
    parts = [_fmt_rate(e["rps"])]
    if e["share"] is not None:
        parts.append(_pct(e["share"]))
    if e["error_rate"]:
        parts.append(f"{_pct(e['error_rate'])} err")
    if e["kind"] == "mirror":
        parts.insert(0, "mirror")
    return " · ".join(parts)


def describe(graph: Mapping[str, Any]) -> str:
    """One sentence per edge: the text alternative of the drawing."""
    if not graph["edges"]:
        return (
            "No traffic recorded yet. Workloads: "
            + (", ".join(n["id"] for n in graph["nodes"]) or "none")
            + "."
        )
    lines = []
    for e in graph["edges"]:
        what = "mirrored copies" if e["kind"] == "mirror" else "requests"
        lines.append(
            f"{e['source']} to {e['destination']}: {e['rps']:.1f} {what} per second"
            + (f", {_pct(e['share'])} of {e['service']}" if e["share"] is not None else "")
            + f", {_pct(e['error_rate'])} errors"
        )
    return "; ".join(lines) + "."


def render_svg(graph: Mapping[str, Any]) -> str:
    width, height = graph["size"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    out = [
        f'<svg class="mesh" viewBox="0 0 {width} {height}" role="img" aria-labelledby="mesh-title mesh-desc"'
        ">",
        '<title id="mesh-title">Mesh topology with request rates</title>',
        f'<desc id="mesh-desc">{escape(describe(graph))}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9"'
        ' markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0L10,5L0,10z" fill="currentColor"/></marker></defs>',
    ]
    fan_in: dict[str, int] = {}
    fan_out: dict[str, int] = {}
    for e in graph["edges"]:
        fan_in[e["destination"]] = fan_in.get(e["destination"], 0) + 1
        fan_out[e["source"]] = fan_out.get(e["source"], 0) + 1
    for e in graph["edges"]:
        a, b = nodes[e["source"]], nodes[e["destination"]]
        x1, y1, x2, y2 = a["x"] + NODE_HALF_W, a["y"], b["x"] - NODE_HALF_W, b["y"]
        bend = 18 if e["kind"] == "mirror" else 0
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - bend
        cx, cy = mx, my - bend  # control point of the curve
        # labels near the end that does not fan: a fan-out (productpage -> reviews v1, v2, v3) labels at each
        # destination, a fan-in (reviews v2, v3 -> ratings) at each source
        at_source = fan_in[e["destination"]] > 1 and fan_out[e["source"]] == 1
        t = 0.1 if at_source else 0.9
        lx = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t**2 * x2 + (4 if at_source else -10)
        ly = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t**2 * y2 + (20 if e["kind"] == "mirror" else 0)
        anchor = "start" if at_source else "end"
        cls = ["edge", e["kind"]]
        if e["error_rate"] >= 0.05:
            cls.append("bad")
        elif e["error_rate"] > 0:
            cls.append("warn")
        if e["rps"] > 0:
            cls.append("flowing")
        # dash animation speed follows the rate (0.4 s per cycle at >= 50 rps, 3 s when trickling)
        speed = max(0.4, 3.0 - min(e["rps"], 50.0) / 50.0 * 2.6)
        width_px = 1.5 + min(e["rps"], 100.0) / 100.0 * 3.5
        out.append(
            f'<g class="{" ".join(cls)}" data-source="{escape(e["source"])}"'
            f' data-destination="{escape(e["destination"])}" data-kind="{e["kind"]}">'
            f'<path d="M{x1:.0f},{y1:.0f} Q{mx:.0f},{my - bend:.0f} {x2:.0f},{y2:.0f}"'
            f' style="stroke-width:{width_px:.1f}px;animation-duration:{speed:.2f}s"'
            ' marker-end="url(#arrow)"/>'
            f'<text x="{lx:.0f}" y="{ly - 6:.0f}" text-anchor="{anchor}">{escape(_edge_label(e))}</text>'
            "</g>"
        )
    for n in graph["nodes"]:
        cls = ["node", f"sidecar-{n['sidecar']}"]
        got, _, want = n["ready"].partition("/")
        if n["pods"] and got != want:
            cls.append("notready")
        label = n["id"] if len(n["id"]) <= 20 else n["id"][:19] + "…"
        sidecar = {"all": "sidecar ✓", "some": "sidecar partial", "none": "no sidecar"}[n["sidecar"]]
        if not n["pods"]:
            if n["id"] == UNKNOWN:
                sidecar = "outside the mesh"
            elif n["id"].endswith(NO_ENDPOINT):
                sidecar, cls = "nothing to route to", [*cls, "missing"]
            elif n["id"].endswith(NO_SIDECAR):
                sidecar = "workload unknown"
            else:
                sidecar = "no pods"
        sub = f"pods {n['ready']} ready · {sidecar}" if n["pods"] else sidecar
        share = (
            f'<text class="share" x="{n["x"]}" y="{n["y"] + 44}" text-anchor="middle">'
            f"{_pct(n['share'])} of {escape(n['app'])}</text>"
            if n["share"] is not None
            else ""
        )
        out.append(
            f'<g class="{" ".join(cls)}" data-node="{escape(n["id"])}">'
            f'<rect x="{n["x"] - NODE_HALF_W}" y="{n["y"] - 24}" width="{2 * NODE_HALF_W}" height="48"'
            ' rx="8"/>'
            f'<text x="{n["x"]}" y="{n["y"] - 4}" text-anchor="middle" class="name">{escape(label)}</text>'
            f'<text x="{n["x"]}" y="{n["y"] + 14}" text-anchor="middle" class="sub">{escape(sub)}</text>'
            f"{share}</g>"
        )
    out.append("</svg>")
    return "".join(out)


def render_edges_table(graph: Mapping[str, Any]) -> str:
    rows = []
    for e in graph["edges"]:
        rows.append(
            f'<tr class="{e["kind"]}"><td>{escape(e["source"])}</td><td>{escape(e["destination"])}</td>'
            f"<td>{escape(e['kind'])}</td><td>{escape(e['service'])}</td>"
            f'<td class="num">{e["rps"]:.2f}</td><td class="num">{_pct(e["error_rate"])}</td>'
            f'<td class="num">{_pct(e["share"])}</td><td class="num">{e["total"]:.0f}</td>'
            f'<td class="num">{e["errors_total"]:.0f}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="9">no traffic yet</td></tr>')
    return (
        '<table id="edges"><caption>Edges (rates over the last '
        f'{graph["window_s"]:.1f} s)</caption><thead><tr><th scope="col">From</th><th scope="col">To</th>'
        '<th scope="col">Kind</th><th scope="col">Service</th><th scope="col">Req/s</th>'
        '<th scope="col">Errors</th><th scope="col">Share</th><th scope="col">Total</th>'
        '<th scope="col">5xx total</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def render_splits(graph: Mapping[str, Any]) -> str:
    if not graph["splits"]:
        return '<p class="muted">No service is split between several workloads yet.</p>'
    parts = []
    for service, split in graph["splits"].items():
        shares = split["window"] or split["total"]
        bars = []
        for i, (dest, share) in enumerate(sorted(shares.items())):
            color = PALETTE[i % len(PALETTE)]
            bars.append(
                f'<span class="seg" style="width:{100 * share:.2f}%;background:{color}"'
                f' title="{escape(dest)} {_pct(share)}"></span>'
            )
        legend = ", ".join(
            f"{escape(d)} {_pct(s)} (all-time {_pct(split['total'].get(d))})"
            for d, s in sorted(shares.items())
        )
        parts.append(
            f'<div class="split" data-service="{escape(service)}"><strong>{escape(service)}</strong>'
            f' <span class="muted">{split["requests"]:.0f} requests</span>'
            f'<div class="stack" role="img" aria-label="{escape(service)} split: {legend}">'
            f"{''.join(bars)}</div>"
            f'<p class="legend">{legend}</p></div>'
        )
    return "".join(parts)


def render_pods_table(graph: Mapping[str, Any]) -> str:
    rows = []
    for p in graph["pods"]:
        ok = (
            "ok"
            if p["phase"] == "Running" and p["ready"].split("/")[0] == p["ready"].split("/")[1]
            else "bad"
        )
        rows.append(
            f'<tr class="{ok}"><td>{escape(p["name"])}</td><td>{escape(p["namespace"])}</td>'
            f'<td>{escape(p["workload"])}</td><td class="num">{escape(p["ready"])}</td>'
            f"<td>{'yes' if p['sidecar'] else '<strong>no</strong>'}</td><td>{escape(p['phase'])}</td>"
            f"<td>{escape(p['reason'])}</td></tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="7">no pods</td></tr>')
    return (
        '<table id="pods"><caption>Pods and their sidecars</caption><thead><tr><th scope="col">Pod</th>'
        '<th scope="col">Namespace</th><th scope="col">Workload</th><th scope="col">Ready</th>'
        '<th scope="col">Sidecar</th><th scope="col">Phase</th><th scope="col">Reason</th></tr></thead>'
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_summary(graph: Mapping[str, Any], synced: bool | None) -> str:
    total_rps = sum(
        e["rps"] for e in graph["edges"] if e["kind"] == "primary" and e["source"] in (GATEWAY, UNKNOWN)
    )
    err = [e for e in graph["edges"] if e["kind"] == "primary"]
    err_rate = sum(e["rps"] * e["error_rate"] for e in err) / max(sum(e["rps"] for e in err), 1e-9)
    mirrors = sum(1 for e in graph["edges"] if e["kind"] == "mirror")
    sync = (
        ""
        if synced is None
        else (
            '<span class="badge pass">config synced</span>'
            if synced
            else '<span class="badge warn">syncing</span>'
        )
    )
    return (
        f'<span class="stat"><b>{total_rps:.1f}</b> ingress req/s</span>'
        f'<span class="stat"><b>{_pct(err_rate)}</b> errors</span>'
        f'<span class="stat"><b>{len(graph["edges"])}</b> edges ({mirrors} mirrored)</span>'
        f'<span class="stat"><b>{len(graph["pods"])}</b> pods</span>{sync}'
    )


def fragments(graph: Mapping[str, Any], synced: bool | None = None) -> dict[str, str]:
    return {
        "summary": render_summary(graph, synced),
        "graph": render_svg(graph),
        "splits": render_splits(graph),
        "edges": render_edges_table(graph),
        "pods": render_pods_table(graph),
    }


UI_CSS = """
.mesh{width:100%;height:auto;max-height:70vh;color:#555;font:12px system-ui,sans-serif}
.mesh .node rect{fill:#fff;stroke:#2b7a3d;stroke-width:2}
.mesh .node.sidecar-none rect,.mesh .node.sidecar-some rect{stroke-dasharray:5 3;stroke:#8a6d00}
.mesh .node.notready rect,.mesh .node.missing rect{stroke:#b00020;fill:#fff3f3}
.mesh .node .name{font-weight:600;fill:#111;font-size:12.5px}
.mesh .node .sub{fill:#555;font-size:11px}
.mesh .node .share{fill:#0b4f8a;font-weight:600;font-size:12px}
.mesh .edge path{fill:none;stroke:#6b7785}
.mesh .edge text{fill:#222;font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px}
.mesh .edge.flowing path{stroke:#2f6fb5;stroke-dasharray:8 5;animation:flow linear infinite}
.mesh .edge.warn path{stroke:#c77800}
.mesh .edge.bad path{stroke:#b00020}
.mesh .edge.mirror path{stroke:#7b3fb5;stroke-dasharray:2 4}
.mesh .edge.mirror text{fill:#7b3fb5}
@keyframes flow{to{stroke-dashoffset:-26}}
@media (prefers-reduced-motion:reduce){.mesh .edge.flowing path{animation:none}}
@media (max-width:640px){.mesh{min-width:700px;max-height:none}}
.stats{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center}
.stat b{font-size:1.25rem}
.stack{display:flex;height:1.1rem;border-radius:4px;overflow:hidden;background:#eee;margin:.25rem 0}
.stack .seg{display:block;height:100%}
.legend-list{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;list-style:none;font-size:.85rem}
.key{display:inline-block;width:2rem;height:0;border-top:3px solid #2f6fb5;vertical-align:middle}
.key.mirror{border-top:3px dotted #7b3fb5}.key.bad{border-top-color:#b00020}
.key.nosidecar{width:1.2rem;height:.8rem;border:2px dashed #8a6d00}
"""

PAGE_SCRIPT = """
(function(){
  var prefix = document.body.getAttribute('data-prefix');
  var status = document.getElementById('status');
  var pause = document.getElementById('pause');
  var paused = false, failures = 0;
  pause.addEventListener('click', function(){
    paused = !paused; pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
  });
  function tick(){
    if (paused || document.hidden) { return schedule(); }
    fetch(prefix + '/graph.json', {cache: 'no-store'}).then(function(r){
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.json();
    }).then(function(g){
      failures = 0;
      ['summary','graph','splits','edges','pods'].forEach(function(k){
        var el = document.getElementById('frag-' + k);
        if (el && g.html[k] !== undefined) { el.innerHTML = g.html[k]; }
      });
      document.body.setAttribute('data-polls', String(Number(document.body.getAttribute('data-polls')) + 1));
      status.textContent = 'live · updated ' + new Date().toLocaleTimeString();
    }).catch(function(e){
      failures += 1;
      status.textContent = 'lab unreachable (' + e.message + '), retrying';
    }).then(schedule);
  }
  function schedule(){ setTimeout(tick, failures ? Math.min(10000, 1000 * failures) : 1000); }
  schedule();
})();
"""


def render_page(graph: Mapping[str, Any], *, prefix: str, title: str, info: str, synced: bool | None) -> str:
    frags = fragments(graph, synced)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{BASE_CSS}{UI_CSS}</style></head>
<body data-prefix="{escape(prefix)}" data-polls="0">
<header><h1>{escape(title)}</h1><p class="muted">{escape(info)}</p>
<p><span id="status" role="status" aria-live="polite">live</span>
<button id="pause" type="button" aria-pressed="false">Pause</button></p></header>
<main>
<section aria-labelledby="h-summary"><h2 id="h-summary" class="sr-only">Summary</h2>
<div id="frag-summary" class="stats">{frags["summary"]}</div></section>
<section aria-labelledby="h-graph"><h2 id="h-graph">Topology</h2>
<figure><div id="frag-graph" class="scroll">{frags["graph"]}</div>
<figcaption><ul class="legend-list" aria-label="Legend">
<li><span class="key"></span> requests (moving dashes: traffic flowing, thicker: more requests/s)</li>
<li><span class="key mirror"></span> mirrored copies (reported only by the target's sidecar)</li>
<li><span class="key bad"></span> 5xx or no response ≥ 5%</li>
<li><span class="key nosidecar"></span> workload without a sidecar</li></ul></figcaption></figure></section>
<section aria-labelledby="h-splits"><h2 id="h-splits">Traffic splits</h2>
<div id="frag-splits">{frags["splits"]}</div></section>
<section aria-labelledby="h-edges"><h2 id="h-edges">Edges</h2>
<div id="frag-edges" class="scroll">{frags["edges"]}</div></section>
<section aria-labelledby="h-pods"><h2 id="h-pods">Pods</h2>
<div id="frag-pods" class="scroll">{frags["pods"]}</div></section>
</main>
<script>{PAGE_SCRIPT}</script>
</body></html>
"""


# ------------------------------------------------------------------------------------------------ serving
class MeshView:
    """Snapshots of the lab's counters (for rates) and the request handler for /ui."""

    def __init__(self, lab: Lab, *, prefix: str = PREFIX, window_s: float = WINDOW_S) -> None:
        self.lab = lab
        self.prefix = prefix.rstrip("/")
        self.window_s = window_s
        self._history: deque[tuple[float, dict[EdgeKey, EdgeCount]]] = deque()
        self.clock = time.monotonic

    def graph(self) -> dict[str, Any]:
        now = self.clock()
        totals = edge_counts(self.lab.telemetry.counters())
        while self._history and now - self._history[0][0] > HISTORY_S:
            self._history.popleft()
        base_t, base = None, None
        for t, snap in self._history:  # newest snapshot at least window_s old, else the oldest there is
            if now - t >= self.window_s or base is None:
                base_t, base = t, snap
            else:
                break
        if not self._history or now - self._history[-1][0] >= MIN_SNAPSHOT_GAP_S:
            self._history.append((now, totals))
        window = now - base_t if base_t is not None and now - base_t > 0 else 0.0
        pods = [pod_state(p) for p in self.lab.store.list("Pod")]
        pods.sort(key=lambda p: (p.namespace != "default", p.workload, p.name))
        return build_graph(totals, base if window else None, window, pods)

    def _info(self) -> str:
        info = self.lab.info
        if info is None:
            return "lab starting"
        return f"gateway {info.gateway_url} · metrics {info.metrics_url}"

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        headers = [("cache-control", "no-store")]
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("content-type", "text/plain"), ("allow", "GET")], b"GET only\n")
        if path in (self.prefix, self.prefix + "/"):
            page = render_page(
                self.graph(),
                prefix=self.prefix,
                title="Bookinfo mesh (lab)",
                info=self._info(),
                synced=self.lab.synced,
            )
            return HttpResponse(200, [("content-type", "text/html; charset=utf-8"), *headers], page.encode())
        if path == self.prefix + "/graph.json":
            graph = self.graph()
            graph["synced"] = self.lab.synced
            graph["html"] = fragments(graph, self.lab.synced)
            body = json.dumps(graph).encode()
            return HttpResponse(200, [("content-type", "application/json"), *headers], body)
        return HttpResponse(404, [("content-type", "text/plain")], b"not found\n")


def install(lab: Lab, *, prefix: str = PREFIX) -> MeshView:
    """Serve the live mesh view at `prefix` (default /ui) on the lab's admin listener."""
    view = MeshView(lab, prefix=prefix)
    lab.add_admin_route(view.prefix, view.handle)
    return view
