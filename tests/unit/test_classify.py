"""Specification of the productpage classifier, checked against pages rendered by the real Bookinfo app.

The expected values come from the fixtures' own INDEX.md table (parsed here, never copied), so the fixtures
and their documentation stay the single source of truth.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from harness.classify import (
    PAGE_MEMO_MAX_BYTES,
    PAGE_MEMO_SIZE,
    classify_file,
    classify_page,
    classify_page_memo_size,
    classify_page_reference,
    classify_page_uncached,
    classify_response,
)
from harness.classify import _classify_page_memo as classify_memo
from harness.model import Era, PageOutcome, PageState, Version

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "real-bookinfo"

Classifier = Callable[[str | bytes], PageOutcome]
IMPLEMENTATIONS = [
    pytest.param(classify_page_uncached, id="fast"),
    pytest.param(classify_page, id="fast-memo"),
    pytest.param(classify_page_reference, id="reference"),
]


class IndexRow(NamedTuple):
    file: str
    era: Era
    version: Version
    state: PageState
    user: str | None
    pod: str | None


def _index_rows() -> list[IndexRow]:
    """The rows of the "Pages" table in INDEX.md."""
    rows = []
    for line in (FIXTURES / "INDEX.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[0].endswith(".html"):
            continue
        file, _tag, era, version, state, user, pod = cells
        rows.append(
            IndexRow(
                file,
                Era(era),
                Version(version),
                PageState(state),
                None if user == "none" else user,
                None if pod == "none" else pod,
            )
        )
    return rows


ROWS = _index_rows()
PAGES = sorted(FIXTURES.glob("*.html"))


def _page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_index_table_covers_every_fixture_page() -> None:
    assert len(ROWS) == len(PAGES) > 30
    assert sorted(row.file for row in ROWS) == [page.name for page in PAGES]


@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
@pytest.mark.parametrize("row", ROWS, ids=[row.file for row in ROWS])
def test_fixture_page_classifies_as_index_says(row: IndexRow, classify: Classifier) -> None:
    outcome = classify(_page(row.file))

    assert (outcome.version, outcome.state, outcome.user, outcome.pod) == (
        row.version,
        row.state,
        row.user,
        row.pod,
    )
    # INDEX.md's era column is the era of the image tag. An era-B page whose reviews call failed is
    # byte-identical to its era-A counterpart (the B marker sits in the reviews section), so the classifier
    # reports what the page shows: A. Everywhere else the page carries its era and must match the column.
    expected_era = Era.A if row.era is Era.B and row.state is PageState.REVIEWS_ERROR else row.era
    assert outcome.era is expected_era
    assert outcome.status == 200
    assert outcome.flag is None


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_fast_and_reference_agree_on_every_field(page: Path) -> None:
    html = page.read_bytes()
    assert classify_page_uncached(html) == classify_page_reference(html)


def test_the_memo_answers_repeated_bodies_like_the_classifier_and_stays_bounded() -> None:
    pages = [page.read_bytes() for page in PAGES]
    variants = [page + b"<!-- %d -->" % i for i in range(PAGE_MEMO_SIZE) for page in pages[:2]]
    for body in [*pages, *pages, *variants, *pages]:
        assert classify_page(body) == classify_page_uncached(body)
        assert classify_page(body.decode()) == classify_page_uncached(body)
    assert classify_page_memo_size() <= PAGE_MEMO_SIZE


def test_bodies_larger_than_the_memo_limit_are_classified_but_not_remembered() -> None:
    page = _page("bookinfo-1.20.3-v3.html")
    big = page + b"<!--" + b"x" * PAGE_MEMO_MAX_BYTES + b"-->"
    classify_memo.cache_clear()
    assert classify_page(big) == classify_page_uncached(big) == classify_page_uncached(page)
    assert classify_page_memo_size() == 0
    classify_page(page)
    assert classify_page_memo_size() == 1


@pytest.mark.parametrize(
    ("name", "stars", "color", "cluster"),
    [
        ("bookinfo-1.16.2-v2.html", (5, 4), "black", None),
        ("bookinfo-1.16.2-v3.html", (5, 4), "red", None),
        ("bookinfo-1.19.1-v2-clustername.html", (5, 4), "black", "cluster-east"),
        ("bookinfo-1.19.1-v3.html", (5, 4), "red", None),
        ("bookinfo-1.20.3-v2-clustername.html", (5, 4), "black", "cluster-east"),
        ("bookinfo-1.20.3-v3.html", (5, 4), "red", None),
        ("bookinfo-1.20.3-v1.html", (), None, None),
        ("bookinfo-1.19.1-v2-ratings-down.html", (), None, None),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(".html") else "",
)
@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
def test_stars_colour_and_cluster(
    classify: Classifier, name: str, stars: tuple[int, ...], color: str | None, cluster: str | None
) -> None:
    outcome = classify(_page(name))
    assert (outcome.stars, outcome.color, outcome.cluster) == (stars, color, cluster)


# --- layout perturbations: the markers must not depend on whitespace, attribute order or quote style ---

# Start tags scanned the way an HTML parser reads them: a quote only opens a value after `=`, and a quote
# inside an attribute name belongs to the name. That keeps era C's unterminated `class="... lg:px-8>` tag
# (which swallows the next `<div class="max-w-2xl">`) one tag, so perturbing it cannot change what the
# parser sees.
_NAME = r"[^\s=>/]++"
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+)"
_TAG = re.compile(rf"<([a-zA-Z][\w-]*)((?>\s*{_NAME}(?:\s*=\s*{_VALUE})?)*)\s*(/?)>")
_ATTR = re.compile(rf"({_NAME})(?:\s*=\s*({_VALUE}))?")

Attr = tuple[str, str | None]


def _rewrite_tags(html: str, rewrite: Callable[[list[Attr]], tuple[list[Attr], str, str]]) -> str:
    """Rebuild every well-formed start tag; `rewrite` returns (attributes, separator, `=` spelling)."""

    def one(match: re.Match[str]) -> str:
        attrs: list[Attr] = [(m.group(1), m.group(2)) for m in _ATTR.finditer(match.group(2))]
        attrs, sep, equals = rewrite(attrs)
        parts = [name if value is None else f"{name}{equals}{value}" for name, value in attrs]
        return (
            "<"
            + match.group(1)
            + "".join(sep + part for part in parts)
            + sep.rstrip(" ")
            + match.group(3)
            + ">"
        )

    return _TAG.sub(one, html)


def _reorder_attributes(html: str) -> str:
    return _rewrite_tags(html, lambda attrs: (attrs[::-1], " ", "="))


def _swap_quotes(value: str | None) -> str | None:
    if value is None or len(value) < 2:
        return value
    inner = value[1:-1]
    if value[0] == '"' and "'" not in inner:
        return f"'{inner}'"
    if value[0] == "'" and '"' not in inner:
        return f'"{inner}"'
    return value


def _switch_quote_style(html: str) -> str:
    return _rewrite_tags(html, lambda attrs: ([(k, _swap_quotes(v)) for k, v in attrs], " ", "="))


def _collapse_whitespace(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html))


def _expand_whitespace(html: str) -> str:
    inside_tags = _rewrite_tags(html, lambda attrs: (attrs, "\n\t  ", " =  "))
    out, end = [], 0
    for tag in _TAG.finditer(inside_tags):
        text = inside_tags[end : tag.start()]
        out += [" \n  " + re.sub(r"(\s+)", r"\1\n   ", text) + "\n ", tag.group(0)]
        end = tag.end()
    return "".join([*out, inside_tags[end:]])


def _everything(html: str) -> str:
    return _expand_whitespace(_switch_quote_style(_reorder_attributes(_collapse_whitespace(html))))


PERTURBATIONS = [
    pytest.param(_collapse_whitespace, id="collapse-whitespace"),
    pytest.param(_expand_whitespace, id="expand-whitespace"),
    pytest.param(_reorder_attributes, id="reorder-attributes"),
    pytest.param(_switch_quote_style, id="switch-quotes"),
    pytest.param(_everything, id="all-at-once"),
]


@pytest.mark.parametrize("perturb", PERTURBATIONS)
def test_perturbations_really_change_the_markup(perturb: Callable[[str], str]) -> None:
    html = _page("bookinfo-1.20.3-v2-clustername.html").decode()
    assert perturb(html) != html


@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
@pytest.mark.parametrize("perturb", PERTURBATIONS)
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_layout_perturbations_do_not_change_the_outcome(
    page: Path, perturb: Callable[[str], str], classify: Classifier
) -> None:
    html = page.read_text()
    assert classify(perturb(html)) == classify(html)


# --- pages the fixtures do not cover ---------------------------------------------------------------------


@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
def test_era_c_star_without_svg_id_still_counts(classify: Classifier) -> None:
    # Image 1.20.0 rendered the filled star without `id="glyphicon glyphicon-star"`.
    html = _page("bookinfo-1.20.3-v3.html").decode().replace('id="glyphicon glyphicon-star" ', "")
    outcome = classify(html)
    assert (outcome.version, outcome.stars, outcome.color) == (Version.V3, (5, 4), "red")


@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
def test_era_c_page_with_empty_pod_falls_back_to_stars(classify: Classifier) -> None:
    # A pre-1.16.4 reviews image behind an era-C productpage: empty pod, then an empty "on cluster".
    html = (
        _page("bookinfo-1.20.3-v2.html")
        .decode()
        .replace("reviews-v2-5b667bcbf8-8pz2r", "\n                  on cluster <div></div>")
    )
    outcome = classify(html)
    assert (outcome.version, outcome.pod, outcome.cluster, outcome.era) == (Version.V2, None, None, Era.C)


@pytest.mark.parametrize("classify", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty"),
        pytest.param("Product page is healthy", id="health"),
        pytest.param(
            "<html><head><title>Hi</title></head><body><h4>Book Reviews</h4></body></html>", id="other-site"
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="binary"),
    ],
)
def test_a_page_that_is_not_bookinfo(classify: Classifier, body: str | bytes) -> None:
    assert classify(body) == PageOutcome(Version.UNKNOWN, PageState.NOT_BOOKINFO)


def test_index_page_is_not_a_product_page() -> None:
    raw = (FIXTURES / "bookinfo-1.20.3-route_.txt").read_bytes()
    body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
    assert classify_page(body).state is PageState.NOT_BOOKINFO
    assert classify_page_reference(body).state is PageState.NOT_BOOKINFO


# --- responses --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "flag"),
    [
        pytest.param(404, b"", "NR", id="404-empty-NR"),
        pytest.param(503, b"no healthy upstream", "UH", id="503-no-healthy-upstream-UH"),
        pytest.param(504, b"upstream request timeout", "UT", id="504-upstream-timeout-UT"),
        pytest.param(503, b"", "NC", id="503-empty-NC"),
        pytest.param(500, b"fault filter abort", "FI", id="500-fault-abort-FI"),
        pytest.param(
            503,
            b"upstream connect error or disconnect/reset before headers. reset reason: overflow",
            "UO",
            id="503-overflow-UO",
        ),
        pytest.param(500, "Internal Server Error", None, id="500-ordinary-error-no-flag"),
    ],
)
def test_non_200_is_a_mesh_error(status: int, body: bytes | str, flag: str | None) -> None:
    assert classify_response(status, body) == PageOutcome(
        Version.UNKNOWN, PageState.MESH_ERROR, status=status, flag=flag
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"id": "0", "reviews": []}', "application/json", id="json"),
        pytest.param(b'{"error": "Ratings service is currently unavailable"}', None, id="json-untyped"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", id="png"),
        pytest.param(_page("bookinfo-1.20.3-v3.html"), "application/octet-stream", id="page-as-binary"),
    ],
)
def test_a_200_that_is_not_html_is_not_bookinfo(body: bytes, content_type: str | None) -> None:
    assert classify_response(200, body, content_type).state is PageState.NOT_BOOKINFO


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_a_200_html_page_is_classified(content_type: str | None) -> None:
    html = _page("bookinfo-1.19.1-v3.html")
    assert classify_response(200, html, content_type) == classify_page(html)


def test_classify_file_reports_the_file_and_the_outcome() -> None:
    path = FIXTURES / "bookinfo-1.19.1-v2-clustername.html"
    assert classify_file(path) == {
        "file": str(path),
        "version": "v2",
        "state": "ok",
        "user": None,
        "pod": "reviews-v2-5b667bcbf8-8pz2r",
        "cluster": "cluster-east",
        "era": "B",
        "stars": [5, 4],
        "color": "black",
        "status": 200,
        "flag": None,
    }
