"""Locust request names for classified pages: one statistics row per outcome, failures for non-pages.

Pure. ``productpage [reviews v3]`` for an ordinary page, ``productpage [reviews v3 ratings-unavailable]``
when the page names its version but a backend failed, ``productpage [ratings-unavailable]`` when it cannot
(an era-A page without ratings), ``productpage [mesh-error 503 UH]`` for a gateway/Envoy reply and
``productpage [transport-error]`` when no response arrived. Logged-in identities are part of the name
(``productpage jason [reviews v2]``) so that header routing shows up as separate rows.

A row is a Locust *failure* when the gateway did not return a Bookinfo page: mesh errors, transport errors
and 200 responses that are not a product page. Backend-error pages are rows of their own but succeed: they
are what a fault-injection scenario expects.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.model import PageOutcome, PageState, Version

ANONYMOUS = "anonymous"
KNOWN_VERSIONS = frozenset({Version.V1, Version.V2, Version.V3})


@dataclass(frozen=True, slots=True)
class RowName:
    name: str
    failure: str | None  # the failure message, None for a success


def outcome_label(outcome: PageOutcome) -> str:
    """The bracketed part of the request name, e.g. ``reviews v3`` or ``mesh-error 503 UH``."""
    state = outcome.state
    if state is PageState.MESH_ERROR:
        if outcome.status == 0:
            return "transport-error"
        return " ".join(part for part in ("mesh-error", str(outcome.status), outcome.flag) if part)
    if state is PageState.NOT_BOOKINFO:
        return "not-bookinfo"
    if outcome.version in KNOWN_VERSIONS:
        label = f"reviews {outcome.version.value}"
        return label if state is PageState.OK else f"{label} {state.value}"
    if state is PageState.OK:  # a Bookinfo page whose version the classifier cannot tell
        return f"reviews {outcome.version.value}"
    return state.value


def row_name(outcome: PageOutcome, identity: str = ANONYMOUS, base: str = "productpage") -> RowName:
    """The Locust request name and failure message for one classified response."""
    who = "" if identity == ANONYMOUS else f" {identity}"
    label = outcome_label(outcome)
    name = f"{base}{who} [{label}]"
    if outcome.state is PageState.MESH_ERROR:
        if outcome.status == 0:
            return RowName(name, "no response from the gateway")
        flag = f" (response flag {outcome.flag})" if outcome.flag else ""
        return RowName(name, f"gateway answered HTTP {outcome.status}{flag}")
    if outcome.state is PageState.NOT_BOOKINFO:
        return RowName(name, f"HTTP {outcome.status} but not a Bookinfo product page")
    return RowName(name, None)
