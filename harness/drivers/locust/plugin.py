"""The Locust side of the Bookinfo locustfile: options, classification, verdicts, web UI tab, distribution.

This is the one module of the harness that imports ``locust`` (and so runs gevent's ``patch_all``). It is
imported by ``locustfiles/bookinfo.py`` inside the Locust process only; nothing on the asyncio/kubernetes side
may import it.

- :func:`add_arguments` registers the custom options (``--expect``, ``--scenario``, ``--jason-share`` ...).
- :func:`report_page` classifies one response with :func:`harness.classify.classify_response`, renames the
  Locust request to one row per outcome and records the outcome.
- On a local runner or the master, a :class:`~harness.drivers.locust.tracker.SplitTracker` feeds the
  sequential tests; on a worker an :class:`~harness.drivers.locust.tracker.OutcomeBuffer` ships every
  observation, in order, to the master in ``report_to_master`` (the master reads it in ``worker_report``).
- With a web UI: a Flask Blueprint (``/bookinfo/``: live page with chart; ``/bookinfo/split.json``;
  ``/bookinfo/history.csv``; ``/bookinfo/counts.json``) and an extended tab "Bookinfo split" whose table
  rows ride along in ``/stats/requests`` as ``extended_stats``.
- Headless: quits once every probe has decided (unless ``--keep-running``), writes ``--verdict-json`` (the
  shape of ``bookinfo-harness run --json``) and sets the exit code: 0 PASS, 1 FAIL, 4 INCONCLUSIVE.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import gevent
from flask import Blueprint, Response, jsonify, request
from locust import events as default_events
from locust.env import Environment
from locust.event import Events
from locust.runners import STATE_INIT, STATE_STOPPED, MasterRunner, Runner, WorkerRunner

from harness.classify import classify_response
from harness.drivers.locust.chart import PAGE
from harness.drivers.locust.expectations import Plan, is_login_user, resolve_plan, share_fraction
from harness.drivers.locust.outcomes import ANONYMOUS, row_name
from harness.drivers.locust.tracker import OutcomeBuffer, SplitTracker
from harness.model import PageOutcome, PageState, Version

log = logging.getLogger("bookinfo")

TAB_KEY = "bookinfo"
TICK_S = 1.0
EXIT_CODES = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 4}  # bookinfo-harness's own exit codes
TABLE_STRUCTURE = [
    {"key": "who", "title": "Identity"},
    {"key": "version", "title": "Reviews version"},
    {"key": "count", "title": "Pages"},
    {"key": "share", "title": "Share"},
    {"key": "interval", "title": "Interval (anytime-valid, 1 - alpha)"},
    {"key": "expected", "title": "Expected"},
    {"key": "verdict", "title": "Sequential verdict"},
]


class State:
    """Per-process state of the extension (one Locust process = one State)."""

    def __init__(self) -> None:
        self.environment: Environment | None = None
        self.plan = Plan()
        self.role = "local"
        self.tracker: SplitTracker | None = None
        self.buffer: OutcomeBuffer | None = None
        self.received: dict[str, int] = {}  # master: observations received per worker
        self.ordinal = itertools.count()
        self.share = share_fraction(0.0)
        self.quit_requested = False
        self.written = False
        self.counts_file: str | None = None  # captured at init: a master forwards its own options to workers

    def record(self, identity: str, outcome: PageOutcome) -> None:
        if self.tracker is not None:
            self.tracker.observe(identity, outcome.version.value, outcome.state.value)
        elif self.buffer is not None:
            self.buffer.add(identity, outcome.version.value, outcome.state.value)


STATE = State()


# -- options -------------------------------------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    def add(*names: str, **kwargs: Any) -> None:
        env = "LOCUST_BOOKINFO_" + names[0].lstrip("-").replace("-", "_").upper()
        parser.add_argument(*names, env_var=env, include_in_web_ui=False, **kwargs)

    add("--expect", help="expected reviews split of anonymous pages, e.g. v1=0.5,v3=0.5")
    add("--expect-jason", dest="expect_jason", help="expected reviews split of the logged-in user's pages")
    add(
        "--scenario", help="derive the expectations (and alpha, beta, tolerance) from this scenario name/path"
    )
    add("--probe", help="only this probe of --scenario (default: every probe, one per identity)")
    add(
        "--jason-share",
        type=float,
        default=None,
        help="share of users that log in (default: by the expectations given; 0 without any)",
    )
    add("--login-user", default=None, help="who the logged-in share signs in as (default jason)")
    add("--page-path", default="/productpage", help="page to load (default /productpage)")
    add("--tolerance", type=float, default=None, help="delta of the sequential test (default 0.1)")
    add("--alpha", type=float, default=None, help="false-FAIL rate (default 0.001)")
    add("--beta", type=float, default=None, help="missed-deviation rate (default 0.001)")
    add("--max-requests", type=int, default=None, help="request budget per probe (default 5000)")
    add("--gate", type=int, default=None, help="allowed pages in a row before sampling starts (default 10)")
    add("--verdict-json", default=None, help="write the run document (as bookinfo-harness run --json) here")
    add(
        "--counts-file",
        default=None,
        help="write this process's per-version counts on quit ({role} and {pid} are substituted)",
    )
    add(
        "--keep-running",
        action="store_true",
        default=False,
        help="headless: keep running after every probe has decided (default: quit)",
    )
    add("--think-time", type=float, default=0.0, help="seconds each user waits between pages (default 0)")
    add("--user-rate", type=float, default=None, help="pages per second per user (constant throughput)")


def _plan_from(options: Any) -> Plan:
    try:
        return resolve_plan(
            expect=options.expect,
            expect_login=options.expect_jason,
            scenario=options.scenario,
            probe=options.probe,
            jason_share=options.jason_share,
            tolerance=options.tolerance,
            alpha=options.alpha,
            beta=options.beta,
            max_requests=options.max_requests,
            gate=options.gate,
            login_user=options.login_user,
        )
    except ValueError as exc:
        sys.stderr.write(f"bookinfo: {exc}\n")
        sys.exit(2)


# -- the users' side -----------------------------------------------------------------------------------------


def next_identity() -> str:
    """The identity of the next user spawned in this process (exactly the configured share logs in)."""
    ordinal = next(STATE.ordinal)
    return STATE.plan.login_user if is_login_user(ordinal, STATE.share) else ANONYMOUS


def options() -> Any:
    env = STATE.environment
    return env.parsed_options if env is not None else None


def report_page(response: Any, identity: str) -> PageOutcome:
    """Classify a ``catch_response=True`` response, name its row by outcome, mark failures, record it."""
    status = int(response.status_code or 0)
    if status == 0:
        outcome = PageOutcome(Version.UNKNOWN, PageState.MESH_ERROR, status=0)
    else:
        headers = response.headers
        content_type = headers.get("Content-Type") if headers is not None else None
        outcome = classify_response(status, response.content or b"", content_type)
    row = row_name(outcome, identity)
    response.request_meta["name"] = row.name
    if row.failure is None:
        response.success()
    else:
        response.failure(row.failure)
    STATE.record(identity, outcome)
    return outcome


# -- listeners -----------------------------------------------------------------------------------------------


def _role(runner: Runner | None) -> str:
    if isinstance(runner, MasterRunner):
        return "master"
    if isinstance(runner, WorkerRunner):
        return "worker"
    return "local"


def _write_json(path: str, data: object) -> None:
    target = Path(path.format(role=STATE.role, pid=os.getpid()))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(target)


def _register_web_ui(environment: Environment, tracker: SplitTracker) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    app = web_ui.app
    blueprint = Blueprint("bookinfo", __name__, url_prefix="/bookinfo")

    @blueprint.route("/")
    def page() -> Response:
        return Response(PAGE, mimetype="text/html")

    @blueprint.route("/split.json")
    def split() -> Response:
        return jsonify(tracker.snapshot())

    @blueprint.route("/history.csv")
    def history() -> Response:
        return Response(
            tracker.history_csv(),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=bookinfo_split_history.csv"},
        )

    @blueprint.route("/counts.json")
    def counts() -> Response:
        return jsonify({**tracker.counts_json(), "received_per_worker": dict(STATE.received)})

    app.register_blueprint(blueprint)
    web_ui.template_args["extended_tabs"] = [{"title": "Bookinfo split", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": TABLE_STRUCTURE}]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./bookinfo/history.csv", "title": "Download Bookinfo split history CSV"},
        {"href": "./bookinfo/", "title": "Bookinfo split: live shares and chart"},
    ]

    @app.after_request
    def extend_stats(response: Response) -> Response:
        if request.path.endswith("/stats/requests") and response.is_json:
            data = response.get_json()
            data["extended_stats"] = [{"key": TAB_KEY, "data": tracker.table_rows()}]
            response.set_data(json.dumps(data))
        return response


def _ticker(environment: Environment, tracker: SplitTracker) -> None:
    """Once a second: a history point, and (headless) quit when every probe has decided."""
    opts = environment.parsed_options
    while True:
        gevent.sleep(TICK_S)
        tracker.tick()
        if (
            opts is not None
            and opts.headless
            and not opts.keep_running
            and not STATE.quit_requested
            and tracker.all_decided()
        ):
            STATE.quit_requested = True
            log.info("bookinfo: every probe has decided, stopping")
            runner = environment.runner
            if runner is not None:
                gevent.spawn(runner.quit)


def _flush_workers_first(runner: MasterRunner) -> None:
    """Make the master stop its workers (and so receive their final reports) before quitting.

    ``MasterRunner.quit()`` alone only waits 0.5 s for the workers' last reports; ``stop()`` waits until
    every worker has reported "client_stopped", which it sends after its final stats report.
    """
    original = runner.quit

    def quit_after_stop() -> None:
        if runner.state not in (STATE_INIT, STATE_STOPPED):
            runner.stop()
        original()

    runner.quit = quit_after_stop  # type: ignore[method-assign]


def _on_init(environment: Environment, runner: Runner | None = None, web_ui: Any = None, **_: Any) -> None:
    STATE.environment = environment
    opts = environment.parsed_options
    STATE.role = _role(runner)
    if opts is None:  # library use without the command line: nothing to verify
        return
    STATE.counts_file = opts.counts_file
    STATE.plan = _plan_from(opts) if STATE.role != "worker" else _worker_plan(opts)
    STATE.share = share_fraction(STATE.plan.jason_share)
    if STATE.role == "worker":
        STATE.buffer = OutcomeBuffer()
        return
    tracker = STATE.tracker = SplitTracker(STATE.plan)
    if isinstance(runner, MasterRunner):
        _flush_workers_first(runner)
    gevent.spawn(_ticker, environment, tracker)
    if environment.web_ui is not None:
        _register_web_ui(environment, tracker)


def _worker_plan(opts: Any) -> Plan:
    """A worker needs only who to log in as and how many: the master decides."""
    share = opts.jason_share if opts.jason_share is not None else 0.0
    if opts.jason_share is None and (opts.expect_jason or opts.scenario):
        share = _plan_from(opts).jason_share
    return Plan(login_user=opts.login_user or "jason", jason_share=share)


def _on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
    if STATE.buffer is not None:
        data["bookinfo"] = {"items": STATE.buffer.drain()}


def _on_worker_report(client_id: str, data: dict[str, Any]) -> None:
    payload = data.get("bookinfo")
    if STATE.tracker is not None and payload:
        received = STATE.tracker.observe_encoded(payload.get("items", []))
        STATE.received[client_id] = STATE.received.get(client_id, 0) + received


def _on_reset_stats() -> None:
    if STATE.tracker is not None:
        STATE.tracker.reset()


def _on_quitting(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    if opts is None or STATE.written:
        return
    runner = environment.runner
    if isinstance(runner, MasterRunner) and runner.state not in (STATE_INIT, STATE_STOPPED):
        runner.stop()  # collect the workers' final reports before writing anything
    STATE.written = True
    if STATE.buffer is not None and STATE.counts_file:
        client_id = getattr(runner, "client_id", None)
        _write_json(
            STATE.counts_file, {"role": STATE.role, "client_id": client_id, **STATE.buffer.counts_json()}
        )
    tracker = STATE.tracker
    if tracker is None:
        return
    if STATE.counts_file:
        _write_json(
            STATE.counts_file,
            {"role": STATE.role, **tracker.counts_json(), "received_per_worker": dict(STATE.received)},
        )
    cpu_warning = bool(
        runner and (runner.cpu_warning_emitted or getattr(runner, "worker_cpu_warning_emitted", False))
    )
    document = tracker.document(
        target=f"locust {environment.host or ''}".strip(),
        driver={
            "name": "locust",
            "role": STATE.role,
            "users": getattr(opts, "num_users", None),
            "workers": runner.worker_count if isinstance(runner, MasterRunner) else 0,
            "cpu_warning": cpu_warning,
            "jason_share": STATE.plan.jason_share,
            "pages": tracker.counts_json()["total"],
        },
    )
    if opts.verdict_json:
        _write_json(opts.verdict_json, document)
    scenario = document["scenarios"][0]  # type: ignore[index]
    status = scenario["verdict"]
    if STATE.plan.probes:
        line = f"bookinfo verdict: {status} ({scenario['requests']} requests in the tests)"
        for probe in scenario["probes"]:
            verdict = probe["reviews"] or probe["pages"]
            line += f"\n  {probe['name']}: {probe['verdict']}: {verdict['reason'] if verdict else '-'}"
        sys.stderr.write(line + "\n")  # printed even with --skip-log-setup, like Locust's own summary
        if opts.headless:
            environment.process_exit_code = EXIT_CODES[status]


def install(events: Events = default_events) -> None:
    """Register every listener on Locust's event hooks (call once, from the locustfile)."""
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(_on_init)
    events.report_to_master.add_listener(_on_report_to_master)
    events.worker_report.add_listener(_on_worker_report)
    events.reset_stats.add_listener(_on_reset_stats)
    events.quitting.add_listener(_on_quitting)
