"""The harness's exception tree and the CLI exit codes it maps to.

    HarnessError                 base; every error a user can cause or meet
    +-- InputError               bad YAML, unknown kinds or fields, bad options      -> exit 2
    |   +-- ScenarioError        a scenario file is wrong
    +-- TargetError              the cluster, lab, gateway or Prometheus failed us   -> exit 3
    |   +-- LabError             the embedded lab failed to start or stop
    |   +-- DriverError          no response from the gateway
    +-- JournalError             an unrestored change journal blocks the run         -> exit 3

A failed or inconclusive verdict is a value (harness.verdict.Verdict), never an exception.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0
    FAIL = 1
    USAGE = 2  # usage or input error
    ENVIRONMENT = 3  # target unreachable or environment
    INCONCLUSIVE = 4
    INTERRUPTED = 130


class HarnessError(Exception):
    """Base of every error the harness reports as one clear line."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT


class InputError(HarnessError):
    """The user's input (file, option, object) is wrong; the message says where."""

    exit_code = ExitCode.USAGE


class ScenarioError(InputError):
    """A scenario file is malformed or refers to something missing."""


class TargetError(HarnessError):
    """The target (lab, cluster API, gateway, Prometheus) could not be used."""

    exit_code = ExitCode.ENVIRONMENT


class LabError(TargetError):
    """The embedded lab failed to start or stop."""


class DriverError(TargetError):
    """The driver could not get responses from the gateway at all."""


class JournalError(HarnessError):
    """An unrestored journal from an earlier run exists; restore it first."""

    exit_code = ExitCode.ENVIRONMENT
