"""Classifier speed per page era on one core, on the real fixture pages (v3, the largest page of each era):

- fast: the marker classifier on a body it has not seen (every call misses the memo);
- memo: a repeated body, as under load, where each response is a new bytes object with the same content
  (each call copies the page first, so the hash is computed every time, as for a real response);
- reference: the BeautifulSoup classifier the fast one is tested against.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from harness.classify import classify_page, classify_page_reference, classify_page_uncached
from harness.paths import ROOT

FIXTURES = ROOT.parent / "shared" / "fixtures" / "real-bookinfo"
PAGES = {"A": "bookinfo-1.16.2-v3.html", "B": "bookinfo-1.19.1-v3.html", "C": "bookinfo-1.20.3-v3.html"}


def _rate(fn: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(20):
            fn()
        count += 20
    return count / (time.perf_counter() - started)


def _classify_a_copy(page: bytes) -> object:
    """A fresh copy of the same bytes each time, as a response body is: a memo hit hashes and compares it."""
    return classify_page(bytes(bytearray(page)))


def main(seconds: float = 1.0) -> dict[str, dict[str, float]]:
    out = {}
    for era, name in PAGES.items():
        page = (FIXTURES / name).read_bytes()
        out[era] = {
            "fast_pages_s": _rate(functools.partial(classify_page_uncached, page), seconds),
            "memo_pages_s": _rate(functools.partial(_classify_a_copy, page), seconds),
            "reference_pages_s": _rate(functools.partial(classify_page_reference, page), seconds / 2),
            "bytes": len(page),
        }
    return out


def cost_us(rates: dict[str, float]) -> dict[str, float]:
    """Microseconds per page for each kind of rate."""
    return {key.removesuffix("_pages_s"): 1e6 / value for key, value in rates.items() if key.endswith("_s")}


if __name__ == "__main__":
    for era, row in main().items():
        print(era, {k: round(v) for k, v in row.items()})
