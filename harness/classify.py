"""Read a Bookinfo `/productpage` response back into a `PageOutcome`.

Pure: no I/O except `classify_file`, which only reads the file it is given.

Two implementations share one output contract:

* `classify_page` is the fast path used under load. It looks for string markers with regular expressions and
  never builds a DOM. Every pattern tolerates whitespace changes, any attribute order inside a tag and either
  quote style, so it depends on what the page says, not on how it is laid out.
* `classify_page_reference` parses with BeautifulSoup's "html.parser" (never lxml: libxml2 mis-nests the
  unclosed `<div>`s of the era-C template and moves review 2 inside review 1).

Rules (markers from bookinfo-app.md, "Parser markers"):

* Era: C when the Tailwind stylesheet or a Tailwind heading is present; B when
  `<dt>Reviews served by:</dt>` is present; A for the remaining Bootstrap pages. An era-B page whose reviews
  call failed carries no B marker and is reported as A: the classifier reports what the page shows.
* State, first match wins: reviews-error, details-error, ratings-unavailable, ok. A 200 page without a
  Bookinfo product heading is not-bookinfo.
* Version: unknown on reviews-error; else the pod name's `reviews-(vN)-`; else the star colour (black v2,
  red v3); else v2-or-v3 when ratings are unavailable; else v1 when the Book Reviews heading is present.
* `stars` holds one entry (full stars) per review that shows a star block; `color` is the first block's
  colour.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from pathlib import Path

from harness.envoy import flag_for
from harness.model import Era, PageOutcome, PageState, Version

__all__ = [
    "PAGE_MEMO_MAX_BYTES",
    "PAGE_MEMO_SIZE",
    "classify_file",
    "classify_page",
    "classify_page_memo_size",
    "classify_page_reference",
    "classify_page_uncached",
    "classify_response",
]

_Q = r"[\"']"  # either quote style
_SP = r"\s+"

_VERSIONS = {"v1": Version.V1, "v2": Version.V2, "v3": Version.V3}
_COLOR_VERSIONS = {"black": Version.V2, "red": Version.V3}
_POD_VERSION = re.compile(r"reviews-(v\d+)-")


def _class_attr(classes: str) -> str:
    """Pattern for `class="<classes>"` with any whitespace between the class names and either quote."""
    names = _SP.join(re.escape(name) for name in classes.split())
    return rf"\bclass\s*=\s*{_Q}\s*{names}\s*{_Q}"


def _text(words: str) -> str:
    return _SP.join(re.escape(word) for word in words.split())


# Every search below starts at an anchor found with `str.find` (about ten times faster per byte than a
# regex scan): the first place a literal that every match contains occurs, moved back to the tag that opens
# the match (see `_search_from`). Era markers: (literal, opening tag or None when the pattern starts with the
# literal, pattern).
_ERA_C_MARKERS: tuple[tuple[str, str | None, re.Pattern[str]], ...] = (
    ("tailwind/tailwind.css", None, re.compile(r"tailwind/tailwind\.css")),
    ("text-3xl", "<h4", re.compile(rf"<h4\b[^>]*{_class_attr('text-3xl font-semibold')}")),
    ("font-mono", "<div", re.compile(rf"<div\b[^>]*{_class_attr('mt-0.5 text-gray-600 font-mono')}")),
)
_ERA_AB_MARKERS: tuple[tuple[str, str | None, re.Pattern[str]], ...] = (
    ("bootstrap.min.css", None, re.compile(r"bootstrap\.min\.css")),
    ("text-primary", "<h4", re.compile(rf"<h4\b[^>]*{_class_attr('text-center text-primary')}")),
    ("<font", None, re.compile(r"<font\b[^>]*\bcolor\s*=")),
)
_BOOK_REVIEWS = re.compile(rf"<h4\b[^>]*>\s*{_text('Book Reviews')}\s*</h4\s*>")
_BOOK_DETAILS = re.compile(rf"<h4\b[^>]*>\s*{_text('Book Details')}\s*</h4\s*>")
_REVIEWS_ERROR = re.compile(_text("Error fetching product reviews"))
_DETAILS_ERROR = re.compile(_text("Error fetching product details"))
_RATINGS_ERROR = re.compile(_text("Ratings service is currently unavailable"))

_POD_B = re.compile(
    rf"<dt\b[^>]*>\s*{_text('Reviews served by:')}\s*</dt\s*>\s*<u\b[^>]*>\s*([^<]*?)\s*</u\s*>"
    rf"(?:\s*on{_SP}cluster\s*<u\b[^>]*>\s*([^<]*?)\s*</u\s*>)?"
)
# The pod sits on its own line after "Reviews served by:"; a pre-1.16.4 reviews image leaves it empty, and
# then "on cluster" follows directly (Jinja's `Undefined != "null"`), which must not be read as the pod name.
_POD_C = re.compile(
    rf"{_text('Reviews served by:')}\s*(?!on{_SP}cluster\b)([^\s<]*)"
    rf"(?:\s*on{_SP}cluster\s*<div\b[^>]*>\s*([^<]*?)\s*</div\s*>)?"
)

_USER_AB = re.compile(
    rf"<span\b[^>]*>\s*([^<]*?)\s*\(\s*<a\b[^>]*\bhref\s*=\s*{_Q}?logout{_Q}?[^>]*>\s*{_text('sign out')}\s*"
    rf"</a\s*>\s*\)\s*</span\s*>"
)
_CLASS_VALUE_END = re.compile(r"\s*[\"']")  # after a class name: it was the value's last
# `[^>]*?` (lazy) where a pattern only asks whether a tag carries an attribute: the same tags match, found
# from the attribute end nearest the tag name instead of backtracking from the tag's end.
_USER_C = re.compile(
    rf"<p\b[^>]*?{_class_attr('text-base font-medium text-gray-50')}[^>]*>\s*([^<]*?)\s*</p\s*>"
)

_FONT_COLOR = re.compile(rf"<font\b[^>]*\bcolor\s*=\s*{_Q}?\s*([\w#-]+)")
_FULL_STAR_AB = re.compile(rf"<span\b[^>]*?{_class_attr('glyphicon glyphicon-star')}")
_STAR_DIV_C = re.compile(rf"<div\b[^>]*\bclass\s*=\s*{_Q}\s*flex\s+gap-x-1\s+text-([\w-]+?)-500\s*{_Q}")
# Image 1.20.0 had no id on the filled star; its viewBox and fill still identify it.
_FULL_STAR_C = re.compile(
    rf"<svg\b(?=[^>]*?(?:\bid\s*=\s*{_Q}\s*glyphicon\s+glyphicon-star\s*{_Q}|"
    rf"\bviewBox\s*=\s*{_Q}\s*0\s+0\s+20\s+20\s*{_Q}))"
)
_REVIEW_AB = re.compile(r"<blockquote\b")
_REVIEW_C = re.compile(r"<section\b")


def _as_text(html: str | bytes) -> str:
    return html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html


def _clean(value: str | None) -> str | None:
    """Entity-decoded, whitespace-trimmed text; None when empty."""
    if value is None:
        return None
    value = " ".join(html_lib.unescape(value).split())
    return value or None


def _decide(
    *,
    era: Era,
    state: PageState,
    has_reviews_heading: bool,
    user: str | None,
    pod: str | None,
    cluster: str | None,
    stars: tuple[int, ...],
    color: str | None,
) -> PageOutcome:
    """The version rule both implementations share, applied to the markers each of them found."""
    if state is PageState.REVIEWS_ERROR:
        return PageOutcome(Version.UNKNOWN, state, user=user, era=era)
    version = Version.UNKNOWN
    match = _POD_VERSION.search(pod) if pod else None
    if match and match.group(1) in _VERSIONS:
        version = _VERSIONS[match.group(1)]
    elif color is not None:
        version = _COLOR_VERSIONS.get(color, Version.UNKNOWN)
    elif state is PageState.RATINGS_UNAVAILABLE:
        version = Version.V2_OR_V3
    elif has_reviews_heading:
        version = Version.V1
    return PageOutcome(version, state, user=user, pod=pod, cluster=cluster, era=era, stars=stars, color=color)


def _state(reviews_error: bool, details_error: bool, ratings_error: bool) -> PageState:
    if reviews_error:
        return PageState.REVIEWS_ERROR
    if details_error:
        return PageState.DETAILS_ERROR
    if ratings_error:
        return PageState.RATINGS_UNAVAILABLE
    return PageState.OK


_NOT_BOOKINFO = PageOutcome(Version.UNKNOWN, PageState.NOT_BOOKINFO)


def _first(text: str, literal: str, follow: re.Pattern[str] | None = None) -> int:
    """Offset of the first `literal` (that `follow` matches right after, when given), or -1."""
    at = text.find(literal)
    while at >= 0 and follow is not None and follow.match(text, at + len(literal)) is None:
        at = text.find(literal, at + 1)
    return at


def _search_from(
    pattern: re.Pattern[str], text: str, at: int, opening: str | None = None
) -> re.Match[str] | None:
    """``pattern.search(text)`` started at anchor `at` (None when `at` is -1).

    `at` must be the first occurrence of a literal that every match contains. With `opening` None the pattern
    starts with that literal, so no match begins before `at`. Otherwise every match begins with `opening` and
    reaches the literal with no other `opening` in between, so none begins before the last `opening` at or
    before `at`.
    """
    if at < 0:
        return None
    start = at if opening is None else max(0, text.rfind(opening, 0, at + len(opening)))
    return pattern.search(text, start)


def _has_marker(text: str, markers: tuple[tuple[str, str | None, re.Pattern[str]], ...]) -> bool:
    return any(
        _search_from(pattern, text, text.find(literal), opening) is not None
        for literal, opening, pattern in markers
    )


PAGE_MEMO_SIZE = 128
"""Distinct bodies whose outcome is remembered. Under load the same few pages repeat byte for byte (one per
version, pod, user and state), so a hit costs one hash and one compare of the body instead of ~15 searches
of it."""
PAGE_MEMO_MAX_BYTES = 64 * 1024
"""Larger bodies are classified without the memo (Bookinfo pages are 5-16 KB), which bounds the memo at
PAGE_MEMO_SIZE x 64 KB = 8 MB whatever a target sends."""


def classify_page(html: str | bytes) -> PageOutcome:
    """Classify a 200 productpage body with string markers only (the hot path).

    The outcome is a pure function of the body, so repeated bodies are answered from a bounded memo
    (:data:`PAGE_MEMO_SIZE`, :data:`PAGE_MEMO_MAX_BYTES`); :func:`classify_page_uncached` is the same
    classifier without it.
    """
    if len(html) > PAGE_MEMO_MAX_BYTES:
        return classify_page_uncached(html)
    return _classify_page_memo(html)


def classify_page_uncached(html: str | bytes) -> PageOutcome:
    """:func:`classify_page` without the memo (what the benchmarks time per era)."""
    text = _as_text(html)
    if _has_marker(text, _ERA_C_MARKERS):
        era = Era.C
    elif _has_marker(text, _ERA_AB_MARKERS):
        era = Era.A
    else:
        return _NOT_BOOKINFO
    # "fetching" and "unavailable" are cheap necessary conditions for the error texts on an ok page.
    fetching = "fetching" in text
    reviews_error = fetching and _search_from(_REVIEWS_ERROR, text, text.find("Error")) is not None
    has_reviews_heading = _search_from(_BOOK_REVIEWS, text, text.find("Reviews"), "<h4") is not None
    details_error = fetching and _search_from(_DETAILS_ERROR, text, text.find("Error")) is not None
    if not (
        reviews_error
        or has_reviews_heading
        or details_error
        or _search_from(_BOOK_DETAILS, text, text.find("Details"), "<h4")
    ):
        return _NOT_BOOKINFO
    unavailable = "unavailable" in text
    ratings_error = unavailable and _search_from(_RATINGS_ERROR, text, text.find("Ratings")) is not None
    state = _state(reviews_error, details_error, ratings_error)

    if era is Era.C:
        user_match = _search_from(_USER_C, text, _first(text, "text-gray-50", _CLASS_VALUE_END), "<p")
    else:
        user_match = _search_from(_USER_AB, text, text.find("logout"), "<span")
    user = _clean(user_match.group(1)) if user_match else None

    pod = cluster = None
    if era is Era.C:
        pod_match = _search_from(_POD_C, text, text.find("served"), "Reviews")
    else:
        pod_match = _search_from(_POD_B, text, text.find("served"), "<dt")
        if pod_match:
            era = Era.B
    if pod_match:
        pod, cluster = _clean(pod_match.group(1)), _clean(pod_match.group(2))

    stars: tuple[int, ...] = ()
    color = None
    if era is Era.C:
        color_match = _search_from(_STAR_DIV_C, text, text.find("gap-x-1"), "<div")
        if color_match:
            color = color_match.group(1)
            stars = _count_stars(text, _REVIEW_C, _STAR_DIV_C, _FULL_STAR_C)
    else:
        color_match = _search_from(_FONT_COLOR, text, text.find("<font"))
        if color_match:
            color = color_match.group(1).lower()
            stars = _count_stars(text, _REVIEW_AB, _FONT_COLOR, _FULL_STAR_AB)

    return _decide(
        era=era,
        state=state,
        has_reviews_heading=has_reviews_heading,
        user=user,
        pod=pod,
        cluster=cluster,
        stars=stars,
        color=color,
    )


_classify_page_memo = functools.lru_cache(maxsize=PAGE_MEMO_SIZE)(classify_page_uncached)


def classify_page_memo_size() -> int:
    """How many distinct bodies the memo holds now (never more than :data:`PAGE_MEMO_SIZE`)."""
    return _classify_page_memo.cache_info().currsize


def _count_stars(
    text: str, review: re.Pattern[str], block: re.Pattern[str], star: re.Pattern[str]
) -> tuple[int, ...]:
    """Full stars in each review (from one review's opening tag to the next) that shows a star block.

    Searches the page in place between review offsets (`pos`/`endpos`) instead of splitting it into copies.
    """
    starts = [m.end() for m in review.finditer(text)]
    counts = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        found = block.search(text, start, end)
        if found:
            counts.append(len(star.findall(text, found.end(), end)))
    return tuple(counts)


# --- reference implementation ---------------------------------------------------------------------------


def _classes(tag: object) -> list[str]:
    from bs4 import Tag

    if not isinstance(tag, Tag):
        return []
    value = tag.get("class")
    if isinstance(value, str):
        return value.split()
    return [str(name) for name in value or []]


def _has_classes(tag: object, wanted: str) -> bool:
    return _classes(tag) == wanted.split()


def _norm(text: str) -> str:
    return " ".join(text.split())


def classify_page_reference(html: str | bytes) -> PageOutcome:
    """Classify a 200 productpage body from a BeautifulSoup "html.parser" tree (slow; the reference)."""
    from bs4 import BeautifulSoup, Comment, Tag

    soup = BeautifulSoup(_as_text(html), "html.parser")

    def src_or_href(name: str, attr: str, suffix: str) -> bool:
        return any(str(tag.get(attr, "")).endswith(suffix) for tag in soup.find_all(name))

    h4s = soup.find_all("h4")
    if (
        src_or_href("script", "src", "tailwind/tailwind.css")
        or any(_has_classes(h, "text-3xl font-semibold") for h in h4s)
        or soup.find("div", class_="font-mono") is not None
    ):
        era = Era.C
    elif (
        src_or_href("link", "href", "bootstrap.min.css")
        or any(_has_classes(h, "text-center text-primary") for h in h4s)
        or soup.find("font", attrs={"color": True}) is not None
    ):
        era = Era.A
    else:
        return _NOT_BOOKINFO

    headings = [_norm(tag.get_text()) for tag in soup.find_all(["h4", "p"])]
    has_reviews_heading = any(_norm(h.get_text()) == "Book Reviews" for h in h4s)
    has_details_heading = any(_norm(h.get_text()) == "Book Details" for h in h4s)
    reviews_error = any(h.startswith("Error fetching product reviews") for h in headings)
    details_error = any(h.startswith("Error fetching product details") for h in headings)
    if not (reviews_error or details_error or has_reviews_heading or has_details_heading):
        return _NOT_BOOKINFO
    ratings_error = any(
        _norm(node) == "Ratings service is currently unavailable"
        for node in soup.find_all(string=True)
        if not isinstance(node, Comment)
    )
    state = _state(reviews_error, details_error, ratings_error)

    user = None
    if era is Era.C:
        for p in soup.find_all("p"):
            if _has_classes(p, "text-base font-medium text-gray-50"):
                user = _clean(p.get_text())
                break
    else:
        for span in soup.find_all("span"):
            link = span.find("a", href="logout", recursive=False)
            if isinstance(link, Tag) and _norm(link.get_text()) == "sign out":
                before = "".join(str(node) for node in link.find_previous_siblings(string=True)[::-1])
                user = _clean(before.rstrip().removesuffix("("))
                break

    pod = cluster = None
    if era is Era.C:
        for div in soup.find_all("div"):
            own = _norm("".join(str(s) for s in div.find_all(string=True, recursive=False)))
            if own.startswith("Reviews served by:"):
                rest = own[len("Reviews served by:") :].split()
                if rest and rest[0] != "on":
                    pod = rest[0]
                if "on" in rest:
                    inner = div.find("div")
                    cluster = _clean(inner.get_text()) if isinstance(inner, Tag) else None
                break
    else:
        for dt in soup.find_all("dt"):
            if _norm(dt.get_text()) == "Reviews served by:":
                era = Era.B
                marks = dt.find_next_siblings("u")
                pod = _clean(marks[0].get_text()) if marks else None
                if len(marks) > 1:
                    cluster = _clean(marks[1].get_text())
                break

    counts: list[int] = []
    colors: list[str] = []
    if era is Era.C:
        for section in soup.find_all("section"):
            for div in section.find_all("div"):
                classes = _classes(div)
                if classes[:2] == ["flex", "gap-x-1"] and len(classes) == 3 and classes[2].endswith("-500"):
                    colors.append(classes[2][len("text-") : -len("-500")])
                    counts.append(sum(1 for svg in div.find_all("svg") if _is_full_star_svg(svg)))
                    break
    else:
        for quote in soup.find_all("blockquote"):
            font = quote.find("font", attrs={"color": True})
            if isinstance(font, Tag):
                colors.append(str(font["color"]).strip().lower())
                counts.append(
                    sum(1 for span in font.find_all("span") if _has_classes(span, "glyphicon glyphicon-star"))
                )

    return _decide(
        era=era,
        state=state,
        has_reviews_heading=has_reviews_heading,
        user=user,
        pod=pod,
        cluster=cluster,
        stars=tuple(counts),
        color=colors[0] if colors else None,
    )


def _is_full_star_svg(svg: object) -> bool:
    from bs4 import Tag

    if not isinstance(svg, Tag):
        return False
    if _norm(str(svg.get("id", ""))) == "glyphicon glyphicon-star":
        return True
    # html.parser lower-cases attribute names
    return _norm(str(svg.get("viewbox", ""))) == "0 0 20 20"


# --- responses and files --------------------------------------------------------------------------------


def classify_response(status: int, body: bytes | str, content_type: str | None = None) -> PageOutcome:
    """Classify what the gateway returned: a mesh error for non-200, else the page (or not-bookinfo)."""
    if status != 200:
        raw = body.encode() if isinstance(body, str) else body
        return PageOutcome(Version.UNKNOWN, PageState.MESH_ERROR, status=status, flag=flag_for(status, raw))
    # Without a content type the markers decide: JSON, text and binary bodies carry none of them.
    if content_type is not None and "html" not in content_type.lower():
        return _NOT_BOOKINFO
    return classify_page(body)


def classify_file(path: str | Path) -> dict[str, object]:
    """Classify a saved page; the dict is what `bookinfo-harness classify FILE...` prints."""
    outcome = classify_page(Path(path).read_bytes())
    return {"file": str(path), **outcome.to_json()}
