"""Run the lab in a child process (`bookinfo-harness lab --state-file ...`) and wait until it serves.

The harness drives load from its own process while the lab serves from another, so the two use both cores,
and gevent (Locust) or a crash on one side never reaches the other. The child writes a JSON state file once
it is ready; stopping it sends SIGTERM, then SIGKILL if it does not exit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.errors import LabError
from harness.lab.lab import LabInfo


class LabProcess:
    def __init__(
        self,
        *,
        era: str = "B",
        seed: int | None = None,
        with_bookinfo: bool = False,
        extra_args: list[str] | None = None,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bookinfo-labproc-")
        self.state_file = Path(self._tmp.name) / "lab.json"
        self.kubeconfig = Path(self._tmp.name) / "kubeconfig"
        args = [
            sys.executable,
            "-m",
            "harness.cli",
            "lab",
            "--state-file",
            str(self.state_file),
            "--kubeconfig",
            str(self.kubeconfig),
            "--era",
            era,
            "--quiet",
        ]
        if seed is not None:
            args += ["--seed", str(seed)]
        if with_bookinfo:
            args.append("--with-bookinfo")
        self._args = args + (extra_args or [])
        self._timeout = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(self._tmp.name) / "lab.log"
        self.info: LabInfo | None = None

    def __enter__(self) -> LabInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LabInfo:
        log = self._log.open("wb")
        self._proc = subprocess.Popen(
            self._args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                raise LabError(f"the lab exited during startup (code {self._proc.returncode}): {tail[0]}")
            if self.state_file.exists():
                try:
                    data = json.loads(self.state_file.read_text())
                except ValueError:
                    data = None
                if data:
                    self.info = LabInfo(**data)
                    return self.info
            time.sleep(0.05)
        self.stop()
        raise LabError(f"the lab did not become ready within {self._timeout:.0f} s (log: {self._log})")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self._tmp.cleanup()

    @property
    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""
