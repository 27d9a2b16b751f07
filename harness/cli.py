"""The `bookinfo-harness` command: argument parsing, signals and exit codes. No logic of its own.

Exit codes: 0 pass, 1 verdict fail, 2 usage or input error, 3 target unreachable or environment,
4 inconclusive, 130 interrupted (after restoring what the run changed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ExitCode, HarnessError, InputError
from harness.paths import SCENARIOS_DIR

log = logging.getLogger("bookinfo-harness")


class _Terminated(Exception):
    """SIGTERM arrived: unwind like Ctrl-C so that `finally` blocks restore the target."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        choices=("lab", "cluster"),
        default="lab",
        help="the embedded lab (default; started and stopped here) or a cluster via kubeconfig",
    )
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig of the cluster (or of a running lab)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--namespace", default="default", help="namespace of the Bookinfo workloads")
    parser.add_argument(
        "--gateway-url", help="ingress gateway URL (default: discovered from istio-ingressgateway)"
    )
    parser.add_argument("--prometheus-url", help="Prometheus for mirror accounting on a cluster")
    parser.add_argument("--era", choices=("A", "B", "C"), default="B", help="lab productpage era (default B)")
    parser.add_argument("--seed", type=int, help="seed of the lab's random choices")
    parser.add_argument(
        "--jaeger-url", help="Jaeger query URL for the trace check (on the lab: its admin URL)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bookinfo-harness", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="apply scenarios, drive traffic, print the verdict table")
    run.add_argument("scenarios", nargs="*", help="scenario names (from scenarios/) or paths; default: all")
    run.add_argument("--exercise", action="store_true", help="run the seed exercise's scenarios in order")
    _add_target_options(run)
    run.add_argument("--alpha", type=float, help="false-FAIL rate (overrides each scenario's)")
    run.add_argument("--beta", type=float, help="missed-deviation rate (overrides each scenario's)")
    run.add_argument("--json", type=Path, help="write the run document (verdicts, counts, findings) here")
    run.add_argument("--html", type=Path, help="write a self-contained HTML report of the run here")
    run.add_argument("--jsonl-dir", type=Path, help="write one JSON line per request, a file per probe")
    run.add_argument(
        "--journal", type=Path, help="change journal (default: per target, under ~/.local/state)"
    )
    run.add_argument("--no-progress", action="store_true")
    run.add_argument(
        "--driver",
        choices=("aio", "locust"),
        default="aio",
        help="load driver: asyncio (default) or Locust in a subprocess (gevent stays out of this process)",
    )
    run.add_argument(
        "--locust-processes", type=int, help="with --driver locust: a master and N local workers"
    )
    run.add_argument(
        "--locust-dir", type=Path, help="with --driver locust: keep Locust's CSV, log and run document"
    )

    lab = sub.add_parser("lab", help="run the embedded Istio lab in the foreground")
    lab.add_argument("--with-bookinfo", action="store_true", help="pre-apply manifests/bookinfo.yaml")
    lab.add_argument("--kubeconfig", type=Path, help="where to write the lab's kubeconfig (mode 0600)")
    lab.add_argument("--gateway-port", type=int, default=0)
    lab.add_argument("--api-port", type=int, default=0)
    lab.add_argument("--admin-port", type=int, default=0)
    lab.add_argument("--host", default="127.0.0.1", help="bind address (default loopback; others warn)")
    lab.add_argument("--era", choices=("A", "B", "C"), default="B")
    lab.add_argument("--seed", type=int)
    lab.add_argument(
        "--prometheus",
        action="store_true",
        help="also run a real Prometheus (Debian package) scraping the lab",
    )
    lab.add_argument(
        "--transport",
        choices=("memory", "tcp"),
        default="memory",
        help="mesh hops in process (default) or over loopback sockets",
    )
    lab.add_argument("--state-file", type=Path, help=argparse.SUPPRESS)
    lab.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)

    classify = sub.add_parser("classify", help="classify saved productpage HTML files (one JSON line each)")
    classify.add_argument("files", nargs="+", type=Path)

    verify = sub.add_parser("verify", help="sequential verdict over saved observations (JSON lines)")
    verify.add_argument("--observations", type=Path, required=True)
    verify.add_argument("--expect", required=True, help="e.g. v1=0.5,v3=0.5")
    verify.add_argument("--key", default="version")
    verify.add_argument("--tolerance", type=float, default=0.1)
    verify.add_argument("--alpha", type=float, default=0.001)
    verify.add_argument("--beta", type=float, default=0.001)
    verify.add_argument("--max-requests", type=int, default=1_000_000)
    verify.add_argument("--json", type=Path)

    inject = sub.add_parser("inject", help="add the Istio sidecar to manifests (istioctl kube-inject)")
    inject.add_argument("-f", "--filename", required=True, help="manifest file, or - for standard input")

    restore = sub.add_parser("restore", help="put back what an interrupted run changed")
    restore.add_argument("--journal", type=Path, required=True)
    restore.add_argument("--kubeconfig", type=Path)
    restore.add_argument("--context")

    from harness import cli_grade

    cli_grade.add_parser(sub)
    return parser


# -- commands ------------------------------------------------------------------------------------------------
def scenario_paths(names: Sequence[str], exercise: bool) -> list[Path]:
    available = sorted(SCENARIOS_DIR.glob("*.yaml"))
    if exercise:
        return [p for p in available if p.name[:2].isdigit() and int(p.name[:2]) < 20]
    if not names:
        return available
    paths = []
    for name in names:
        path = Path(name)
        if path.suffix in (".yaml", ".yml") or os.sep in name:
            paths.append(path)
            continue
        matches = [p for p in available if p.stem == name or p.stem.split("-", 1)[-1] == name]
        if not matches:
            known = ", ".join(p.stem.split("-", 1)[-1] for p in available)
            raise InputError(f"no scenario named {name!r} in {SCENARIOS_DIR} (known: {known})")
        paths.append(matches[0])
    return paths


def cmd_run(args: argparse.Namespace) -> int:
    from harness.journal import Journal, restore
    from harness.lab.process import LabProcess
    from harness.report import run_document, verdict_table
    from harness.runner import Runner, RunOptions
    from harness.scenario import load_scenario
    from harness.target import cluster_target, lab_target
    from harness.verdict import Status

    scenarios = [load_scenario(p) for p in scenario_paths(args.scenarios, args.exercise)]
    lab_proc = None
    tmp = None
    if args.target == "lab" and args.kubeconfig is None:
        print("starting the lab ...", file=sys.stderr)
        lab_proc = LabProcess(era=args.era, seed=args.seed)
        info = lab_proc.start()
        target = lab_target(info, args.namespace)
        tmp = tempfile.TemporaryDirectory(prefix="bookinfo-run-")
        journal_path = args.journal or Path(tmp.name) / "journal.json"
    else:
        target = cluster_target(
            kubeconfig=args.kubeconfig,
            context=args.context,
            namespace=args.namespace,
            gateway_url=args.gateway_url,
            prometheus_url=args.prometheus_url,
        )
        journal_path = args.journal or Path.home() / ".local/state/bookinfo-harness/journal.json"
    results = []
    trace_failed = False
    try:
        journal = Journal.open_new(journal_path, target.name)
        runner = Runner(
            target,
            journal,
            RunOptions(
                alpha=args.alpha,
                beta=args.beta,
                progress=not args.no_progress,
                jsonl_dir=args.jsonl_dir,
                driver=args.driver,
                locust_processes=args.locust_processes,
                locust_dir=args.locust_dir,
            ),
        )
        try:
            for scenario in scenarios:
                print(f"▶ {scenario.name}: {scenario.description}", file=sys.stderr)
                result = asyncio.run(runner.run(scenario))
                results.append(result)
                print(
                    f"  {result.status.value} ({result.requests} requests, {result.seconds:.1f} s)",
                    file=sys.stderr,
                )
            jaeger = args.jaeger_url or (
                lab_proc.info.metrics_url.rsplit("/", 1)[0] if lab_proc and lab_proc.info else None
            )
            if jaeger and any(r.probes for r in results):
                # The exercise's step 14: one request's trace holds a span per Bookinfo service it touched.
                from harness.traces import probe_trace

                trace = probe_trace(target.gateway_url, jaeger)
                print(f"trace check: {'PASS' if trace.ok else 'FAIL'} {trace.detail}", file=sys.stderr)
                trace_failed = not trace.ok
        finally:
            conflicts = restore(journal, target.kube)
            for line in conflicts:
                print(f"restore: {line}", file=sys.stderr)
            journal.discard()
    finally:
        target.kube.close()
        if lab_proc is not None:
            lab_proc.stop()
        if tmp is not None:
            tmp.cleanup()
    print(verdict_table(results))
    if args.html:
        from harness.htmlreport import write_report

        write_report(results, runner.traces, args.html, target=target.name)
    if args.json:
        args.json.write_text(
            json.dumps(run_document(results, target=target.name, seed=args.seed), indent=2) + "\n"
        )
    statuses = {r.status for r in results}
    if Status.FAIL in statuses or trace_failed:
        return ExitCode.FAIL
    if Status.INCONCLUSIVE in statuses:
        return ExitCode.INCONCLUSIVE
    return ExitCode.PASS


def cmd_lab(args: argparse.Namespace) -> int:
    from harness.lab.lab import Lab, LabOptions
    from harness.model import Era

    options = LabOptions(
        host=args.host,
        gateway_port=args.gateway_port,
        api_port=args.api_port,
        admin_port=args.admin_port,
        era=Era(args.era),
        seed=args.seed,
        with_bookinfo=args.with_bookinfo,
        kubeconfig=args.kubeconfig,
        transport=args.transport,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Lab(options) as lab:
            assert lab.info is not None
            if args.prometheus:
                from harness.lab import prometheus as lab_prometheus

                prom = await lab_prometheus.start(lab)
                lab.info = dataclasses.replace(lab.info, prometheus_url=prom.url)
            admin = lab.info.metrics_url.rsplit("/", 1)[0]
            if not args.quiet:
                print(
                    f"lab ready (era {args.era})\n"
                    f"  gateway:    {lab.info.gateway_url}/productpage\n"
                    f"  kubeconfig: {lab.info.kubeconfig}   (export KUBECONFIG={lab.info.kubeconfig})\n"
                    f"  metrics:    {lab.info.metrics_url}\n"
                    f"  api:        {lab.info.api_url}\n"
                    f"  traces:     {admin}/api/traces?service=productpage.default\n"
                    f"  mesh view:  {admin}/ui\n"
                    + (f"  prometheus: {lab.info.prometheus_url}\n" if lab.info.prometheus_url else "")
                    + "stop with Ctrl-C",
                    flush=True,
                )
            # What exists once the lab is up (modules, the store, the listeners) lives until exit: keep it out
            # of every later collection, whose pauses are the lab's latency tail under load.
            gc.freeze()
            if args.state_file:
                tmp = args.state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(lab.info.to_json()))
                tmp.replace(args.state_file)
            await stop.wait()

    asyncio.run(main())
    return ExitCode.PASS


def cmd_classify(args: argparse.Namespace) -> int:
    from harness.classify import classify_file

    status = ExitCode.PASS
    for path in args.files:
        try:
            print(json.dumps(classify_file(path)))
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            status = ExitCode.USAGE
    return status


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.verdict import Status, parse_expect, verify_stream

    try:
        expected = parse_expect(args.expect)
    except ValueError as exc:
        raise InputError(f"--expect: {exc}") from None

    def records() -> Iterator[dict[str, Any]]:
        try:
            handle = args.observations.open()
        except OSError as exc:
            raise InputError(f"{args.observations}: cannot read: {exc.strerror or exc}") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise InputError(f"{args.observations}:{number}: not a JSON object") from None
                if not isinstance(record, dict) or args.key not in record:
                    raise InputError(f"{args.observations}:{number}: no {args.key!r} key")
                yield record

    verdict, used = verify_stream(
        records(),
        key=args.key,
        expected=expected,
        tolerance=args.tolerance,
        alpha=args.alpha,
        beta=args.beta,
        max_requests=args.max_requests,
    )
    document = {**verdict.to_json(), "lines_used": used}
    print(f"{verdict.status.value} after {used} lines: {verdict.reason}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return {Status.PASS: ExitCode.PASS, Status.FAIL: ExitCode.FAIL}.get(verdict.status, ExitCode.INCONCLUSIVE)


def cmd_inject(args: argparse.Namespace) -> int:
    import yaml

    from harness.lab.injection import inject_objects
    from harness.manifests import parse_manifests

    source = "<stdin>" if args.filename == "-" else args.filename
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    objects = inject_objects(parse_manifests(text, source))
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return ExitCode.PASS


def cmd_restore(args: argparse.Namespace) -> int:
    from harness.journal import Journal, restore
    from harness.kube import KubeClient

    journal = Journal.load(args.journal)
    kube = KubeClient(kubeconfig=args.kubeconfig, context=args.context)
    conflicts = restore(journal, kube)
    for line in conflicts:
        print(f"restore: {line}", file=sys.stderr)
    journal.discard()
    print(f"restored {len(journal.entries)} objects ({len(conflicts)} conflicts left as they are)")
    return ExitCode.PASS if not conflicts else ExitCode.ENVIRONMENT


def cmd_grade(args: argparse.Namespace) -> int:
    from harness import cli_grade

    return cli_grade.run(args)


COMMANDS = {
    "run": cmd_run,
    "lab": cmd_lab,
    "classify": cmd_classify,
    "verify": cmd_verify,
    "inject": cmd_inject,
    "restore": cmd_restore,
    "grade": cmd_grade,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if args.command != "lab" else None
    try:
        return int(COMMANDS[args.command](args))
    except HarnessError as exc:
        print(f"bookinfo-harness: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except (KeyboardInterrupt, _Terminated):
        print("bookinfo-harness: interrupted; what the run changed has been put back", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.PASS)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
