"""What a Locust run verifies: the expected split per identity, from ``--expect`` or from a scenario.

Pure except :func:`find_scenario`/:func:`resolve_plan`, which read the scenario file they are given (PyYAML is
imported lazily, so a locustfile that only uses ``--expect`` needs nothing beyond the pure harness modules).

Identities are ``anonymous`` and the user the logged-in share signs in as (``jason``). Each identity with an
expectation gets its own probe, named like the scenario's probes (``traffic`` for the flat form), so the run
document has the same probes as ``bookinfo-harness run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from harness.drivers.locust.outcomes import ANONYMOUS
from harness.verdict import parse_expect

DEFAULT_TOLERANCE = 0.1
DEFAULT_ALPHA = 0.001
DEFAULT_BETA = 0.001
DEFAULT_MAX_REQUESTS = 5000
DEFAULT_GATE = 10  # the runner's GATE_CONSECUTIVE: pages the split allows, in a row, before sampling
DEFAULT_LOGIN_USER = "jason"


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    identity: str  # "anonymous" or the user name
    reviews: Mapping[str, float] | None = None
    pages: Mapping[str, float] | None = None
    max_requests: int = DEFAULT_MAX_REQUESTS


@dataclass(frozen=True)
class Plan:
    """Everything the tracker needs; built once per Locust process from its options."""

    scenario: str = "locust"
    description: str = ""
    probes: tuple[ProbeSpec, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE
    leak_tolerance: float | None = None  # the scenario's; None = tolerance
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    gate: int = DEFAULT_GATE
    login_user: str = DEFAULT_LOGIN_USER
    jason_share: float = 0.0
    path: str = "/productpage"
    extra: dict[str, object] = field(default_factory=dict)

    def probe_for(self, identity: str) -> ProbeSpec | None:
        return next((p for p in self.probes if p.identity == identity), None)


def find_scenario(name_or_path: str) -> Path:
    """A scenario file by path, or by name as `bookinfo-harness run` resolves it (``reviews-50-50``)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if not path.is_file():
            raise ValueError(f"scenario file {name_or_path!r} not found")
        return path
    from harness.paths import SCENARIOS_DIR

    available = sorted(SCENARIOS_DIR.glob("*.yaml"))
    for candidate in available:
        if candidate.stem == name_or_path or candidate.stem.split("-", 1)[-1] == name_or_path:
            return candidate
    known = ", ".join(p.stem.split("-", 1)[-1] for p in available)
    raise ValueError(f"no scenario named {name_or_path!r} in {SCENARIOS_DIR} (known: {known})")


def share_fraction(share: float) -> Fraction:
    """The jason share as a small exact fraction (users are assigned by it without rounding drift)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--jason-share must be in [0, 1], got {share}")
    return Fraction(str(share)).limit_denominator(1000)


def is_login_user(ordinal: int, share: Fraction) -> bool:
    """Whether the user spawned ``ordinal``-th (0-based, per process) logs in: exactly floor(n * share) of the
    first n users do, for every n (a Bresenham sequence, no randomness)."""
    return (
        ordinal + 1
    ) * share.numerator // share.denominator > ordinal * share.numerator // share.denominator


def resolve_plan(
    *,
    expect: str | None = None,
    expect_login: str | None = None,
    scenario: str | None = None,
    probe: str | None = None,
    jason_share: float | None = None,
    tolerance: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    max_requests: int | None = None,
    gate: int | None = None,
    login_user: str | None = None,
) -> Plan:
    """Combine the Locust options into a :class:`Plan`; command-line values override the scenario's.

    Raises ValueError with a message fit for the command line.
    """
    probes: list[ProbeSpec] = []
    name, description = "locust", ""
    scenario_rates: dict[str, float] = {}
    leak_tolerance: float | None = None
    user = login_user
    if scenario:
        if expect or expect_login:
            raise ValueError("use either --scenario or --expect/--expect-jason, not both")
        from harness.errors import ScenarioError
        from harness.scenario import load_scenario

        try:
            loaded = load_scenario(find_scenario(scenario))
        except ScenarioError as exc:
            raise ValueError(str(exc)) from None
        name, description = loaded.name, loaded.description
        scenario_rates = {"tolerance": loaded.tolerance, "alpha": loaded.alpha, "beta": loaded.beta}
        leak_tolerance = loaded.leak_tolerance
        selected = [p for p in loaded.probes if probe is None or p.name == probe]
        if not selected:
            names = ", ".join(p.name for p in loaded.probes) or "none"
            raise ValueError(f"scenario {loaded.name!r} has no probe {probe!r} (probes: {names})")
        seen: set[str] = set()
        for item in selected:
            identity = item.traffic.user or ANONYMOUS
            if identity != ANONYMOUS:
                if user is not None and user != identity:
                    raise ValueError(f"probe {item.name!r} logs in as {identity!r}, the run as {user!r}")
                user = identity
            if identity in seen:
                continue  # one probe per identity: the first one states what this identity must see
            seen.add(identity)
            probes.append(
                ProbeSpec(
                    item.name, identity, item.reviews, item.pages, max_requests or item.traffic.max_requests
                )
            )
    else:
        user = user or DEFAULT_LOGIN_USER
        budget = max_requests or DEFAULT_MAX_REQUESTS
        if expect:
            probes.append(ProbeSpec("traffic", ANONYMOUS, parse_expect(expect), None, budget))
        if expect_login:
            probes.append(ProbeSpec(user, user, parse_expect(expect_login), None, budget))
    user = user or DEFAULT_LOGIN_USER
    if jason_share is None:  # default: whichever identities have an expectation get the traffic
        kinds = {p.identity == ANONYMOUS for p in probes}
        jason_share = 0.5 if kinds == {True, False} else (1.0 if kinds == {False} else 0.0)
    share = float(jason_share)
    share_fraction(share)
    if gate is not None and gate < 0:
        raise ValueError(f"--gate must be >= 0, got {gate}")
    tolerance_value = _pick(tolerance, scenario_rates.get("tolerance"), DEFAULT_TOLERANCE)
    return Plan(
        scenario=name,
        description=description,
        probes=tuple(probes),
        tolerance=tolerance_value,
        leak_tolerance=None if leak_tolerance is None else min(leak_tolerance, tolerance_value),
        alpha=_pick(alpha, scenario_rates.get("alpha"), DEFAULT_ALPHA),
        beta=_pick(beta, scenario_rates.get("beta"), DEFAULT_BETA),
        gate=DEFAULT_GATE if gate is None else gate,
        login_user=user,
        jason_share=share,
    )


def _pick(option: float | None, scenario: float | None, default: float) -> float:
    if option is not None:
        return float(option)
    return float(scenario) if scenario is not None else default
