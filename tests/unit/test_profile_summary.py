"""benchmarks/profile.py's summary of py-spy's collapsed stacks: self time by area and by function."""

from __future__ import annotations

import pytest

from benchmarks.profile import area_of, summarize

LINES = [
    "<module> (benchmarks/bench_memory.py:92);worker (harness/drivers/aio.py:256);"
    "classify_page (harness/classify.py:220) 30",
    "<module> (benchmarks/bench_memory.py:92);worker (harness/drivers/aio.py:256) 10",
    "run (asyncio/runners.py:190);_SelectorSocketTransport.write (asyncio/selector_events.py:1080) 50",
    "run (asyncio/runners.py:190);ClientSession._request (aiohttp/client.py:900) 10",
    "",
    "a line without a count",
]


@pytest.mark.parametrize(
    ("path", "area"),
    [
        ("harness/classify.py", "classifier"),
        ("/work/main/harness/classify.py", "classifier"),  # py-spy --full-filenames
        ("harness/lab/mesh/_dataplane.py", "lab: mesh and sidecars"),
        ("harness/lab/store.py", "lab: other"),
        ("harness/runner.py", "harness: other"),
        ("aiohttp/client.py", "aiohttp, yarl, multidict"),
        ("selectors.py", "asyncio and selectors"),
        ("json/encoder.py", "other (stdlib, C extensions)"),
        ("<string>", "other (stdlib, C extensions)"),
    ],
)
def test_area_of_a_frame(path: str, area: str) -> None:
    assert area_of(path) == area


def test_summary_counts_the_innermost_frame_of_each_stack() -> None:
    summary = summarize(LINES, top=2)
    assert summary.samples == 100
    assert summary.areas == [
        ("asyncio and selectors", 0.5),
        ("classifier", 0.3),
        ("driver", 0.1),
        ("aiohttp, yarl, multidict", 0.1),
    ]
    assert summary.functions == [
        ("_SelectorSocketTransport.write (asyncio/selector_events.py)", 0.5),
        ("classify_page (harness/classify.py)", 0.3),
    ]


def test_no_samples_is_an_empty_summary() -> None:
    assert summarize([]).samples == 0
