"""A kubectl-style JSONPath subset for rubric field checks. Pure.

Accepted forms (with or without the surrounding braces and the leading dot), as `kubectl get -o jsonpath`
writes them:

    {.spec.http[0].route[*].weight}
    {.spec.http[*].match[*].headers.end-user.exact}
    {.metadata.labels.istio\\.io/rev}          # a dot inside a key is escaped with a backslash
    {.metadata.labels['istio.io/rev']}         # or the key is quoted
    {.spec.servers[?(@.port.number==80)].hosts[*]}
    {.spec.metrics[?(@.resource.name=="cpu")].resource.target.averageUtilization}

`evaluate(obj, path)` returns every value the path reaches, in document order (an empty list when nothing
matches), the way kubectl prints them space-separated. A malformed path raises `JsonPathError` when the
rubric is loaded (`parse`), never while grading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["JsonPathError", "evaluate", "parse"]


class JsonPathError(ValueError):
    """A field path the grader cannot parse."""


@dataclass(frozen=True, slots=True)
class _Key:
    name: str


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _All:
    pass


@dataclass(frozen=True, slots=True)
class _Filter:
    path: tuple[object, ...]  # steps relative to @
    op: str | None  # "==", "!=" or None (exists)
    value: object


_Step = _Key | _Index | _All | _Filter
_FILTER = re.compile(r"\?\(@((?:\.[^=!)]+)*)\s*(?:(==|!=)\s*(.+?))?\s*\)$")


def _literal(text: str) -> object:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_steps(text: str, where: str) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            i += 1
            name = []
            while i < len(text) and text[i] not in ".[":
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                name.append(text[i])
                i += 1
            if not name:
                raise JsonPathError(f"{where}: empty key in {text!r}")
            key = "".join(name)
            steps.append(_All() if key == "*" else _Key(key))
        elif char == "[":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise JsonPathError(f"{where}: unclosed [ in {text!r}")
            inner = text[i + 1 : j].strip()
            i = j + 1
            if inner == "*":
                steps.append(_All())
            elif re.fullmatch(r"-?\d+", inner):
                steps.append(_Index(int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(_Key(inner[1:-1]))
            else:
                match = _FILTER.match(inner)
                if not match:
                    raise JsonPathError(f"{where}: unsupported selector [{inner}] in {text!r}")
                rel = _parse_steps(match.group(1) or "", where)
                value = _literal(match.group(3)) if match.group(2) else None
                steps.append(_Filter(rel, match.group(2), value))
        else:
            raise JsonPathError(f"{where}: unexpected {char!r} at {i} in {text!r} (paths start with a dot)")
    return tuple(steps)


@lru_cache(maxsize=512)
def parse(path: str, where: str = "path") -> tuple[_Step, ...]:
    """Parse a kubectl-style path; raises JsonPathError naming `where` when it is malformed."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text:
        raise JsonPathError(f"{where}: empty path")
    if not text.startswith((".", "[")):
        text = "." + text
    return _parse_steps(text, where)


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def _walk(values: list[object], steps: tuple[_Step, ...]) -> list[object]:
    for step in steps:
        out: list[object] = []
        for value in values:
            if isinstance(step, _Key):
                if isinstance(value, Mapping) and step.name in value:
                    out.append(value[step.name])
            elif isinstance(step, _Index):
                if isinstance(value, list) and -len(value) <= step.index < len(value):
                    out.append(value[step.index])
            elif isinstance(step, _All):
                if isinstance(value, list):
                    out.extend(value)
                elif isinstance(value, Mapping):
                    out.extend(value.values())
            else:
                items = value if isinstance(value, list) else []
                for item in items:
                    found = _walk([item], step.path)  # type: ignore[arg-type]
                    if step.op is None:
                        keep = bool(found)
                    elif step.op == "==":
                        keep = any(_same(f, step.value) for f in found)
                    else:
                        keep = not any(_same(f, step.value) for f in found)
                    if keep:
                        out.append(item)
        values = out
    return values


def evaluate(obj: object, path: str) -> list[object]:
    """Every value `path` reaches in `obj`, in document order."""
    return _walk([obj], parse(path))


def same(a: object, b: object) -> bool:
    """Equality as a grader means it: 80 == 80.0, "v1" == "v1", True is not 1."""
    return _same(a, b)
