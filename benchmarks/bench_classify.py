"""Classifier speed per page era: the fast marker classifier and the BeautifulSoup reference, pages/s on one
core, on the real fixture pages (v3, the largest page of each era)."""

from __future__ import annotations

import time

from harness.classify import classify_page, classify_page_reference
from harness.paths import ROOT

FIXTURES = ROOT.parent / "shared" / "fixtures" / "real-bookinfo"
PAGES = {"A": "bookinfo-1.16.2-v3.html", "B": "bookinfo-1.19.1-v3.html", "C": "bookinfo-1.20.3-v3.html"}


def _rate(fn, page: bytes, seconds: float) -> float:  # type: ignore[no-untyped-def]
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(20):
            fn(page)
        count += 20
    return count / (time.perf_counter() - started)


def main(seconds: float = 1.0) -> dict[str, dict[str, float]]:
    out = {}
    for era, name in PAGES.items():
        page = (FIXTURES / name).read_bytes()
        out[era] = {
            "fast_pages_s": _rate(classify_page, page, seconds),
            "reference_pages_s": _rate(classify_page_reference, page, seconds / 2),
            "bytes": len(page),
        }
    return out


if __name__ == "__main__":
    for era, row in main().items():
        print(era, {k: round(v) for k, v in row.items()})
