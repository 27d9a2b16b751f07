"""`make bench`: every benchmark in one run; prints a table per part and writes benchmarks/results.json.

`python -m benchmarks --quick` is a two-minute smoke run with shorter parts; it writes results-quick.json.

Figures are measured on this machine in this run; ratios compare parts measured in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

from benchmarks import bench_classify, bench_clients, bench_lab, bench_locust, bench_memory, bench_verdict


def classification_share(
    drivers: dict[str, dict[str, dict[str, float]]], classify: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Share of the aio driver's CPU spent classifying at its maximum rate on the static era-B page:
    (microseconds per page) x (pages per second) / (CPU seconds per second)."""
    static = next(rows for target, rows in drivers.items() if target.startswith("static page"))
    aio = static["harness aio driver"]
    per_page = bench_classify.cost_us(classify["B"])
    return {kind: per_page[kind] * 1e-6 * aio["rps"] / aio["cpu"] for kind in ("fast", "memo")}


def main() -> int:
    quick = "--quick" in sys.argv
    results: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}\n")

    runs = 200 if quick else 1000
    print(f"== requests to a verdict (alpha = beta = 0.001; {runs} seeded runs at the expected split)")
    verdicts = bench_verdict.main(runs)
    print(
        f"{'split':<9}{'mean':>8}{'p99':>8}{'Wald E0':>9}{'mean/Wald':>11}{'floor':>8}{'mean/floor':>12}"
        f"{'fixed n':>9}"
    )
    for name, row in verdicts.items():
        print(
            f"{name:<9}{row['mean']:>8.0f}{row['p99']:>8.0f}{row['wald_e0']:>9.0f}{row['mean_over_wald']:>11.2f}"
            f"{row['floor']:>8.0f}{row['mean_over_floor']:>12.2f}{row['fixed_n']:>9.0f}"
        )
    results["verdict"] = verdicts

    print("\n== classifier pages/s on one core (v3 page of each era)")
    classify = bench_classify.main(0.5 if quick else 1.5)
    for era, row in classify.items():
        print(
            f"era {era}: fast {row['fast_pages_s']:>7.0f}/s   "
            f"repeated body (memo) {row['memo_pages_s']:>8.0f}/s   "
            f"reference (bs4) {row['reference_pages_s']:>5.0f}/s"
        )
    results["classify"] = classify

    print("\n== lab: productpage via gateway -> productpage -> details + reviews v3 -> ratings, all injected")
    lab = {t: bench_lab.main(4 if quick else 10, t) for t in ("memory", "tcp")}
    for transport, figures in lab.items():
        peak, half = figures["peak"], figures["half_rate"]
        print(
            f"transport {transport:<7} peak {peak['rps']:>6.0f} req/s (p50 {peak['p50_ms']:.1f} ms, "
            f"p99 {peak['p99_ms']:.1f} ms);  at 50%: {half['rps']:.0f} req/s, p50 {half['p50_ms']:.1f} ms, "
            f"p99 {half['p99_ms']:.1f} ms"
        )
    results["lab"] = lab

    print(
        "\n== HTTP clients for the driver: classified req/s on one core, static page (1 / 8 / 64 in flight)"
    )
    clients = bench_clients.main(2 if quick else 5)
    for client, rows in clients.items():
        print(f"{client:<8} " + "  ".join(f"{tasks:>2}: {rate:>6.0f}" for tasks, rate in rows.items()))
    results["clients"] = clients

    print("\n== drivers: classified requests/s on one client core")
    drivers = bench_locust.main(["--seconds", "4" if quick else "8"])
    results["drivers"] = drivers
    results["classification_share"] = share = classification_share(drivers, classify)
    print(
        f"classification at the aio driver's maximum rate on the static (era B) page: "
        f"{share['memo']:.1%} of its CPU (repeated bodies, as under load); "
        f"{share['fast']:.1%} if every body were new"
    )

    count = 100_000 if quick else 1_000_000
    print(f"\n== memory of a {count:,}-request run (aio driver, static page, nothing kept per request)")
    memory = bench_memory.main(count)
    print(
        f"{memory['requests']:,} requests in {memory['seconds']} s: driver RSS "
        f"{memory['rss_kib']['first_sample']} KiB after {bench_memory.SAMPLE_EVERY:,} -> "
        f"{memory['rss_kib']['end']} KiB at the end; "
        f"largest step between samples {memory['largest_step_kib']} KiB"
    )
    results["memory"] = memory

    # a --quick smoke run must not overwrite the figures the README quotes
    out = Path(__file__).with_name("results-quick.json" if quick else "results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
