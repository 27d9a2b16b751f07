"""Values that cross module boundaries: what one page was, and what one request observed.

Pure: no I/O. Everything here is a frozen dataclass or a string enum whose values appear verbatim in JSON,
YAML and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Version(StrEnum):
    """Which reviews version served a page, as far as the page itself can tell."""

    V1 = "v1"
    V2 = "v2"
    V3 = "v3"
    V2_OR_V3 = "v2-or-v3"  # ratings failed on an era-A page: v2 and v3 render identically
    UNKNOWN = "unknown"  # no reviews section (reviews error, mesh error, not a Bookinfo page)


class PageState(StrEnum):
    """What the page says about the backends behind productpage."""

    OK = "ok"
    RATINGS_UNAVAILABLE = "ratings-unavailable"
    REVIEWS_ERROR = "reviews-error"
    DETAILS_ERROR = "details-error"
    MESH_ERROR = "mesh-error"  # the gateway answered something other than 200 (status and flag say what)
    NOT_BOOKINFO = "not-bookinfo"  # a 200 that is not a Bookinfo product page


class Era(StrEnum):
    """productpage template era (bookinfo-app.md section 0)."""

    A = "A"  # Bootstrap 3 + glyphicons, no pod name (images <= 1.16.2)
    B = "B"  # A plus "Reviews served by:" (images 1.16.4 .. 1.19.1)
    C = "C"  # Tailwind + inline SVG (images >= 1.20)


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """The classification of one /productpage response."""

    version: Version
    state: PageState
    user: str | None = None
    pod: str | None = None
    cluster: str | None = None
    era: Era | None = None
    stars: tuple[int, ...] = ()  # full stars per review, in page order
    color: str | None = None  # star colour when stars are shown ("black" / "red")
    status: int = 200  # HTTP status from the gateway
    flag: str | None = None  # Envoy-style response flag for mesh errors (NR, NC, UH, UT, FI, UO, UF, URX)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version.value,
            "state": self.state.value,
            "user": self.user,
            "pod": self.pod,
            "cluster": self.cluster,
            "era": self.era.value if self.era else None,
            "stars": list(self.stars),
            "color": self.color,
            "status": self.status,
            "flag": self.flag,
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """One request the driver sent, and what came back."""

    seq: int
    outcome: PageOutcome
    latency_ms: float
    user: str | None = None  # the identity the driver logged in as (None = anonymous)
    error: str | None = None  # transport error text when no response arrived
    extra: dict[str, object] = field(default_factory=dict)
