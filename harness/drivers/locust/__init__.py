"""Locust as a driver: the locustfile's helpers, and the subprocess runner behind `run --driver locust`.

Only :mod:`harness.drivers.locust.plugin` imports ``locust`` (and with it gevent's ``patch_all``). It runs
inside the Locust process started by ``locust -f locustfiles/bookinfo.py``. Every other module here is pure or
plain-subprocess code that the asyncio/kubernetes side of the harness may import safely:

- :mod:`~harness.drivers.locust.outcomes`: Locust request names per page outcome (one stats row each).
- :mod:`~harness.drivers.locust.expectations`: the expected split from ``--expect`` or a scenario.
- :mod:`~harness.drivers.locust.tracker`: per-identity counts, sequential verdicts, history, the run document.
- :mod:`~harness.drivers.locust.chart`: the self-contained split page served by the web UI extension.
- :mod:`~harness.drivers.locust.driver`: run one scenario probe with Locust in a subprocess.
- :mod:`~harness.drivers.locust.manifests`: the ConfigMap that carries the locustfile into a cluster.
"""

from __future__ import annotations

from harness.paths import ROOT

LOCUSTFILE = ROOT / "locustfiles" / "bookinfo.py"
"""The Bookinfo locustfile (``locust -f`` takes this path)."""

__all__ = ["LOCUSTFILE"]
