"""The Bookinfo applications the lab runs in its emulated pods, chosen by container image.

`make_handler(ctx)` returns the app for `ctx.image` as a `Handler`; `image_app(image)` says which app an image
is (or None when the lab does not emulate it).
"""

from __future__ import annotations

import re

from harness.lab.bookinfo.details import DetailsApp
from harness.lab.bookinfo.productpage import ProductPageApp
from harness.lab.bookinfo.ratings import RatingsApp
from harness.lab.bookinfo.reviews import ReviewsApp
from harness.lab.http import Handler, PodContext

__all__ = ["UnsupportedImage", "image_app", "make_handler"]

_APPS = {
    "examples-bookinfo-productpage-v1": "productpage",
    "examples-bookinfo-details-v1": "details",
    "examples-bookinfo-ratings-v1": "ratings",
    "examples-bookinfo-reviews-v1": "reviews-v1",
    "examples-bookinfo-reviews-v2": "reviews-v2",
    "examples-bookinfo-reviews-v3": "reviews-v3",
}
_DIGEST_OR_TAG = re.compile(r"(@[^/]*|:[^/:@]*)$")


class UnsupportedImage(Exception):
    """make_handler was given an image the lab has no emulation for."""

    def __init__(self, image: str) -> None:
        supported = ", ".join(_APPS)
        super().__init__(f"image {image} is not a Bookinfo image the lab emulates (supported: {supported})")
        self.image = image


def image_app(image: str) -> str | None:
    """ "productpage", "details", "ratings", "reviews-v1/v2/v3", or None; registry and tag do not matter."""
    name = image.strip()
    while True:  # strip a digest and/or a tag ("name:tag@sha256:...")
        stripped = _DIGEST_OR_TAG.sub("", name)
        if stripped == name:
            break
        name = stripped
    return _APPS.get(name.rsplit("/", 1)[-1])


def make_handler(ctx: PodContext) -> Handler:
    """The app for the pod's image; raises UnsupportedImage for any other image."""
    app = image_app(ctx.image)
    if app is None:
        raise UnsupportedImage(ctx.image)
    if app == "productpage":
        return ProductPageApp(ctx)
    if app == "details":
        return DetailsApp(ctx)
    if app == "ratings":
        return RatingsApp(ctx)
    return ReviewsApp(ctx, app)
