"""Score sheets as text, JSON, JUnit XML and GitHub Classroom-shaped JSON. Pure (strings and dicts out)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.grading.score import Sheet

FORMAT = "bookinfo-harness/grade/v1"


def _pts(x: float) -> str:
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(sheet: Sheet) -> str:
    """The score table: item, earned/possible, and per failed check expected / found / where / advice."""
    lines = [
        f"{sheet.rubric} — {sheet.target}  (identity: {sheet.identity}; api: {sheet.host or '-'})",
        f"{'item':<22} {'points':>11}  status",
    ]
    for item in sheet.items:
        lines.append(
            f"{item.id:<22} {_pts(item.earned):>5}/{_pts(item.points):<5}  {item.status}"
            + (f" — {_cut(item.reason, 90)}" if item.reason else "")
        )
        for c in item.checks:
            if c.passed:
                continue
            lines.append(f"    ✗ {c.check_id} [{c.category}]")
            lines.append(f"        expected: {_cut(c.expected, 110)}")
            lines.append(f"        found:    {_cut(c.found, 110)}")
            if c.where:
                lines.append(f"        where:    {_cut(c.where, 110)}")
            if c.advice:
                lines.append(f"        advice:   {_cut(c.advice, 110)}")
    cfg, beh = sheet.config, sheet.behaviour
    lines.append(
        f"{'TOTAL':<22} {_pts(sheet.earned):>5}/{_pts(sheet.total):<5}  "
        f"(config {_pts(cfg[0])}/{_pts(cfg[1])}, behaviour {_pts(beh[0])}/{_pts(beh[1])})"
    )
    for error in sheet.errors:
        lines.append(f"  note: {error}")
    return "\n".join(lines)


def summary(sheets: Sequence[Sheet]) -> str:
    lines = [f"{'contestant':<20} {'total':>11} {'config':>11} {'behaviour':>11}  note"]
    for s in sheets:
        note = "" if s.reachable else _cut(s.errors[0] if s.errors else "unreachable", 60)
        lines.append(
            f"{s.target:<20} {_pts(s.earned):>5}/{_pts(s.total):<5} "
            f"{_pts(s.config[0]):>5}/{_pts(s.config[1]):<5}"
            f" {_pts(s.behaviour[0]):>5}/{_pts(s.behaviour[1]):<5}  {note}"
        )
    return "\n".join(lines)


def document(sheets: Sequence[Sheet]) -> dict[str, object]:
    return {"format": FORMAT, "sheets": [s.to_json() for s in sheets]}


def junit(sheets: Sequence[Sheet]) -> str:
    """One testsuite per contestant, one testcase per item with a `points` property (earned)."""
    root = ET.Element("testsuites", name="bookinfo-harness grade")
    for s in sheets:
        failures = sum(1 for i in s.items if not i.full)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=s.target,
            tests=str(len(s.items)),
            failures=str(failures),
            errors="0",
            time=f"{s.seconds:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("identity", s.identity),
            ("api_server", s.host),
            ("rubric", s.rubric),
            ("points", _pts(s.earned)),
            ("max_points", _pts(s.total)),
        ):
            ET.SubElement(props, "property", name=name, value=str(value))
        for item in s.items:
            case = ET.SubElement(suite, "testcase", classname=f"{s.rubric}.{s.target}", name=item.id)
            cprops = ET.SubElement(case, "properties")
            for name, points in (
                ("points", item.earned),
                ("max_points", item.points),
                ("config_points", item.config_earned),
                ("behaviour_points", item.behaviour_earned),
            ):
                ET.SubElement(cprops, "property", name=name, value=_pts(points))
            if not item.full:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"{_pts(item.earned)}/{_pts(item.points)} {item.status}: {item.advice()}",
                )
                failure.text = (
                    "\n".join(
                        f"{c.check_id}: expected {c.expected}; found {c.found}; where {c.where}; {c.advice}"
                        for c in item.checks
                        if not c.passed
                    )
                    or item.reason
                )
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def classroom(sheet: Sheet) -> dict[str, object]:
    """The payload GitHub Classroom's grading reporter reads: {version, status, max_score, tests[...]}."""
    tests = []
    for item in sheet.items:
        message = "" if item.full else item.advice() or item.status
        tests.append(
            {
                "name": f"{item.id}: {item.title}",
                "status": "error" if item.status == "error" else ("pass" if item.full else "fail"),
                "message": message,
                "test_code": f"grade {item.id}",
                "filename": "",
                "line_no": 0,
                "duration": 0,
                "score": item.earned,
            }
        )
    status = "error" if not sheet.reachable else ("pass" if sheet.earned >= sheet.total - 1e-9 else "fail")
    return {"version": 1, "status": status, "max_score": sheet.total, "tests": tests}


def classroom_many(sheets: Sequence[Sheet]) -> object:
    return classroom(sheets[0]) if len(sheets) == 1 else {s.target: classroom(s) for s in sheets}


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
