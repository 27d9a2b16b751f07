"""Where the CPU goes: py-spy samples of the load driver, or of the lab under load, summed per area and per
function (self time: the innermost Python frame of each sample).

    python -m benchmarks.profile driver [--requests 100000]   # the aio driver against the static page
    python -m benchmarks.profile lab [--seconds 10]           # the lab serving productpage at full rate

The raw samples go to artifacts/profile-<target>.txt as collapsed stacks (flamegraph.pl and speedscope read
them). py-spy is a development dependency; it samples through ptrace, so it needs root or CAP_SYS_PTRACE.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
RATE_HZ = 250

# (area, test on the frame's file path); the first that matches names the area.
AREAS: tuple[tuple[str, str], ...] = (
    ("classifier", "harness/classify.py"),
    ("verdict and probe tests", "harness/verdict.py"),
    ("verdict and probe tests", "harness/probetests.py"),
    ("verdict and probe tests", "harness/htmlreport.py"),
    ("driver", "harness/drivers/"),
    ("lab: mesh and sidecars", "harness/lab/mesh/"),
    ("lab: Bookinfo apps", "harness/lab/bookinfo/"),
    ("lab: other", "harness/lab/"),
    ("harness: other", "harness/"),
    ("aiohttp, yarl, multidict", "aiohttp/"),
    ("aiohttp, yarl, multidict", "yarl/"),
    ("aiohttp, yarl, multidict", "multidict/"),
    ("asyncio and selectors", "asyncio/"),
    ("asyncio and selectors", "selectors.py"),
    ("benchmark harness", "benchmarks/"),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Summary:
    samples: int
    areas: list[tuple[str, float]]  # (area, share of samples), largest first
    functions: list[tuple[str, float]]  # ("function (file)", share of samples), largest first


def area_of(path: str) -> str:
    """The area of a frame's file, as py-spy prints it ("harness/classify.py", "asyncio/events.py", or a
    full path with --full-filenames)."""
    return next(
        (area for area, marker in AREAS if path.startswith(marker) or "/" + marker in path),
        "other (stdlib, C extensions)",
    )


def summarize(collapsed: Iterable[str], top: int = 12) -> Summary:
    """Sum collapsed-stack lines ("outer (file:line);...;inner (file:line) COUNT") by the innermost frame."""
    areas: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in collapsed:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frame = _FRAME.match(stack.rsplit(";", 1)[-1])
        function, path = (frame["function"], frame["file"]) if frame else (stack.rsplit(";", 1)[-1], "")
        total += count
        areas[area_of(path)] += count
        functions[f"{function} ({path})"] += count
    if total == 0:
        return Summary(0, [], [])
    return Summary(
        total,
        [(area, n / total) for area, n in areas.most_common()],
        [(name, n / total) for name, n in functions.most_common(top)],
    )


def render(title: str, summary: Summary) -> str:
    lines = [f"{title}: {summary.samples} samples at {RATE_HZ} Hz (self time)"]
    lines += [f"  {share:6.1%}  {area}" for area, share in summary.areas]
    lines.append("  top functions:")
    lines += [f"  {share:6.1%}  {name}" for name, share in summary.functions]
    return "\n".join(lines)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[dev]'")
    return found


def profile_driver(requests: int) -> Path:
    out = ARTIFACTS / "profile-driver.txt"
    command = [_py_spy(), "record", "--format", "raw", "--rate", str(RATE_HZ), "-o", str(out), "--"]
    command += [sys.executable, "-m", "benchmarks.bench_memory", "--requests", str(requests)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return out


def profile_lab(seconds: float) -> Path:
    from benchmarks.bench_lab import _measure, _prepare
    from harness.lab.process import LabProcess

    out = ARTIFACTS / "profile-lab.txt"
    with LabProcess(seed=1) as info:
        _prepare(info)
        asyncio.run(_measure(info.gateway_url, seconds=2, concurrency=16, rate=None))  # warm-up
        command = [_py_spy(), "record", "--format", "raw", "--rate", str(RATE_HZ), "-o", str(out)]
        sampler = subprocess.Popen(
            [*command, "--pid", str(info.pid), "--duration", str(round(seconds))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)  # let py-spy attach before the load starts
        asyncio.run(_measure(info.gateway_url, seconds=seconds, concurrency=64, rate=None))
        _, errors = sampler.communicate(timeout=seconds + 30)
        if sampler.returncode != 0:
            raise SystemExit(f"py-spy failed on the lab (pid {info.pid}): {errors.decode().strip()[-300:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", choices=("driver", "lab"))
    parser.add_argument("--requests", type=int, default=100_000, help="driver: requests to send")
    parser.add_argument("--seconds", type=float, default=10.0, help="lab: seconds of load to sample")
    args = parser.parse_args(argv)
    ARTIFACTS.mkdir(exist_ok=True)
    out = profile_driver(args.requests) if args.target == "driver" else profile_lab(args.seconds)
    summary = summarize(out.read_text().splitlines())
    print(render(f"{args.target} ({out.relative_to(ROOT)})", summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
