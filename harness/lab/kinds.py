"""The resource types the lab's Kubernetes API serves: one table that the store, the API and discovery share.

Each entry names a Kind, its API group, the versions served (preferred first), its URL plural, and
whether it lives in a namespace. Istio's networking kinds are served under v1, v1beta1 and v1alpha3 from
one stored object; HorizontalPodAutoscaler is stored as autoscaling/v2 and served as v1 by conversion.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownKind(LookupError):
    """An apiVersion/kind pair the lab does not serve (kubectl says "no matches for kind")."""


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for core
    versions: tuple[str, ...]  # served versions, preferred first
    kind: str  # "Pod"
    plural: str  # "pods"
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """`group/version` (or just `version` for core), for the given or preferred version."""
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v

    @property
    def group_resource(self) -> str:
        """`virtualservices.networking.istio.io`, or `pods` for core: what error messages name."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """`VirtualService.networking.istio.io`, or `Pod` for core: what 422 Invalid messages name."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def is_custom(self) -> bool:
        """Served like a CustomResourceDefinition (no strategic merge, apiVersion kept as written)."""
        return self.group.endswith("istio.io")


_ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
_ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")

KINDS: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "Namespace", "namespaces", "namespace", False, ("ns",)),
    ResourceType("", ("v1",), "Pod", "pods", "pod", True, ("po",), ("all",), ("status", "log")),
    ResourceType("", ("v1",), "Service", "services", "service", True, ("svc",), ("all",)),
    ResourceType("", ("v1",), "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), (), ()),
    ResourceType("", ("v1",), "Event", "events", "event", True, ("ev",), (), ()),
    ResourceType("", ("v1",), "ConfigMap", "configmaps", "configmap", True, ("cm",), (), ()),
    ResourceType("", ("v1",), "Endpoints", "endpoints", "endpoints", True, ("ep",), (), ()),
    ResourceType(
        "apps",
        ("v1",),
        "Deployment",
        "deployments",
        "deployment",
        True,
        ("deploy",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType(
        "apps",
        ("v1",),
        "ReplicaSet",
        "replicasets",
        "replicaset",
        True,
        ("rs",),
        ("all",),
        ("status", "scale"),
    ),
    ResourceType(
        "autoscaling",
        ("v2", "v1"),
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        True,
        ("hpa",),
        ("all",),
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_VERSIONS,
        "Gateway",
        "gateways",
        "gateway",
        True,
        ("gw",),
        _ISTIO_CATEGORIES,
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_VERSIONS,
        "VirtualService",
        "virtualservices",
        "virtualservice",
        True,
        ("vs",),
        _ISTIO_CATEGORIES,
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_VERSIONS,
        "DestinationRule",
        "destinationrules",
        "destinationrule",
        True,
        ("dr",),
        _ISTIO_CATEGORIES,
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_VERSIONS,
        "ServiceEntry",
        "serviceentries",
        "serviceentry",
        True,
        ("se",),
        _ISTIO_CATEGORIES,
    ),
    ResourceType(
        "networking.istio.io",
        _ISTIO_VERSIONS,
        "Sidecar",
        "sidecars",
        "sidecar",
        True,
        (),
        _ISTIO_CATEGORIES,
    ),
)

_BY_KIND: dict[str, ResourceType] = {rt.kind: rt for rt in KINDS}


def split_api_version(api_version: str) -> tuple[str, str]:
    """`"networking.istio.io/v1"` → `("networking.istio.io", "v1")`; `"v1"` → `("", "v1")`."""
    group, _, version = api_version.rpartition("/")
    return group, version


def resource_for(api_version: str, kind: str) -> ResourceType:
    """The type served for `apiVersion`/`kind`; raises `UnknownKind` worded like kubectl's error."""
    group, version = split_api_version(api_version)
    rt = _BY_KIND.get(kind)
    if rt is None or rt.group != group or version not in rt.versions:
        raise UnknownKind(f'no matches for kind "{kind}" in version "{api_version}"')
    return rt


def by_kind(kind: str) -> ResourceType | None:
    """The type whose Kind name is `kind` (Kind names are unique across the lab's groups)."""
    return _BY_KIND.get(kind)


def by_plural(group: str, version: str, plural: str) -> ResourceType | None:
    """The type served at `/apis/{group}/{version}/.../{plural}`, or None."""
    for rt in KINDS:
        if rt.group == group and rt.plural == plural and version in rt.versions:
            return rt
    return None


def group_versions() -> dict[str, tuple[str, ...]]:
    """Every served group → its versions (preferred first), in table order; core is `""`."""
    out: dict[str, tuple[str, ...]] = {}
    for rt in KINDS:
        known = out.get(rt.group, ())
        out[rt.group] = known + tuple(v for v in rt.versions if v not in known)
    return out


def kinds_in(group: str, version: str) -> list[ResourceType]:
    """The types served under one group version."""
    return [rt for rt in KINDS if rt.group == group and version in rt.versions]
