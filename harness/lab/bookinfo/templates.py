"""productpage's HTML, per template era, built with plain string code (no template engine).

The markup and its whitespace follow what the real Jinja templates render (bookinfo-app.md section 1), so a
lab page carries exactly the markers of a real page. Everything that does not depend on the request is
assembled once at import; `PageRenderer` then caches the per-user navigation and the rendered details and
reviews sections by the backend body that produced them, because under load the same few bodies repeat.
"""

# The fragments below are the rendered markup, trailing spaces and long lines included: they are data.
# ruff: noqa: E501, W291, W293

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness.model import Era

__all__ = ["PRODUCT", "PageRenderer", "escape", "render_index"]

PRODUCT: dict[str, Any] = {
    "id": 0,
    "title": "The Comedy of Errors",
    "descriptionHtml": (
        '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors'
        " is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical"
        " comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to"
        " puns and word play."
    ),
}

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def escape(value: object) -> str:
    """Jinja autoescape (markupsafe) spelling; a missing value renders empty, like Jinja's Undefined."""
    return "" if value is None else str(value).translate(_ESCAPES)


# --- eras A and B: Bootstrap 3 + glyphicons ---------------------------------------------------------------

_AB_HEAD = """<!DOCTYPE html>
<html>
  <head>
    <title>Simple Bookstore App</title>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1.0">

<!-- Latest compiled and minified CSS -->
<link rel="stylesheet" href="static/bootstrap/css/bootstrap.min.css">

<!-- Optional theme -->
<link rel="stylesheet" href="static/bootstrap/css/bootstrap-theme.min.css">

  </head>
  <body>
    
    

<nav class="navbar navbar-inverse navbar-static-top">
  <div class="container">
    <div class="navbar-header">
      <a class="navbar-brand" href="#">BookInfo Sample</a>
    </div>
    
"""
_AB_NAV_ANONYMOUS = """    <button type="button" class="btn btn-default navbar-btn navbar-right" data-toggle="modal" href="#login-modal">Sign
      in</button>
"""
_AB_NAV_USER = """    <p class="navbar-text navbar-right">
      <i class="glyphicon glyphicon-user" aria-hidden="true"></i>
      <span style="padding-left: 5px;">{user} ( <a href="logout">sign out</a> )</span>
    </p>
"""
_AB_DEAD_NAV_START = """    
  </div>
</nav>

<!---
<div class="navbar navbar-inverse navbar-fixed-top">
  <div class="container">
    <div class="navbar-header pull-left">
      <a class="navbar-brand" href="#">Microservices Fabric BookInfo Demo</a>
    </div>
    <div class="navbar-header pull-right">
      <button type="button" class="navbar-toggle" data-toggle="collapse" data-target=".navbar-collapse">
        <span class="icon-bar"></span>
        <span class="icon-bar"></span>
        <span class="icon-bar"></span>
      </button>
    </div>
    <div class="navbar-collapse collapse">

"""
_AB_DEAD_NAV_ANONYMOUS = """      <button type="button" class="btn btn-default navbar-btn pull-right" data-toggle="modal" data-target="#login-modal">Sign in</button>
"""
_AB_DEAD_NAV_USER = """      <a href="logout"><button type="button" class="btn btn-default navbar-btn pull-right">Sign out</button></a>
      <p class="navbar-text pull-right">Signed in as {user}</p>
"""
_AB_BODY_START = """
    </div>
  </div>
</div>
-->

<div id="login-modal" class="modal fade" role="dialog">
  <div class="modal-dialog">
    <div class="modal-content">
      <div class="modal-header">
        <button type="button" class="close" data-dismiss="modal">&times;</button>
        <h4 class="modal-title">Please sign in</h4>
      </div>
      <div class="modal-body">
        <form method="post" action='login' name="login_form">
          <p><input type="text" class="form-control" name="username" id="username" placeholder="User Name"></p>
          <p><input type="password" class="form-control" name="passwd" placeholder="Password"></p>
          <p>
            <button type="submit" class="btn btn-primary">Sign in</button>
            <button type="button" class="btn btn-default" data-dismiss="modal">Cancel</button>
          </p>
        </form>
      </div>
    </div>

  </div>
</div>

<div class="container-fluid">
  <div class="row">
    <div class="col-md-12">
      <h3 class="text-center text-primary">{title}</h3>
      
      <p>Summary: {description}</p>
      
    </div>
  </div>

  <div class="row">
    <div class="col-md-6">
      
"""
_AB_DETAILS_OK = """      <h4 class="text-center text-primary">Book Details</h4>
      <dl>
        <dt>Type:</dt>{type}
        <dt>Pages:</dt>{pages}
        <dt>Publisher:</dt>{publisher}
        <dt>Language:</dt>{language}
        <dt>ISBN-10:</dt>{isbn10}
        <dt>ISBN-13:</dt>{isbn13}
      </dl>
"""
_AB_DETAILS_ERROR = """      <h4 class="text-center text-primary">Error fetching product details!</h4>
      
      <p>{error}</p>
      
"""
_AB_BETWEEN = """      
    </div>

    <div class="col-md-6">
      
"""
_AB_REVIEWS_OK_START = """      <h4 class="text-center text-primary">Book Reviews</h4>
      
"""
_AB_REVIEW = """      <blockquote>
        <p>{text}</p>
        <small>{reviewer}</small>
        
{rating}      </blockquote>
      
"""
_AB_RATING_STARS = """        <font color="{color}">
          <!-- full stars: -->
          
{full}          <!-- empty stars: -->
          
{empty}        </font>
"""
_AB_FULL_STAR = '          <span class="glyphicon glyphicon-star"></span>\n          \n'
_AB_EMPTY_STAR = '          <span class="glyphicon glyphicon-star-empty"></span>\n          \n'
_AB_RATING_ERROR = "        <p><i>{error}</i></p>\n"
_AB_RATING_WRAP = "        \n{inner}        \n        \n"
_AB_SERVED_BY = """      <dl>
        <dt>Reviews served by:</dt>
        <u>{pod}</u>
        
{cluster}      </dl>
"""
_AB_CLUSTER = "        on cluster <u>{cluster}</u>\n        \n"
_AB_REVIEWS_ERROR = """      <h4 class="text-center text-primary">Error fetching product reviews!</h4>
      
      <p>{error}</p>
      
"""
_AB_TAIL = """      
    </div>
  </div>
</div>


    
<!-- Latest compiled and minified JavaScript -->
<script src="static/jquery.min.js"></script>

<!-- Latest compiled and minified JavaScript -->
<script src="static/bootstrap/js/bootstrap.min.js"></script>

<script type="text/javascript">
  $('#login-modal').on('shown.bs.modal', function () {
    $('#username').focus();
  });
</script>

  </body>
</html>
"""

# --- era C: Tailwind + inline SVG --------------------------------------------------------------------------

_C_HEAD = """
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1.0">


<title>Simple Bookstore App</title>

<script src="static/tailwind/tailwind.css"></script>
<script type="text/javascript">
  window.addEventListener("DOMContentLoaded", (event) => {
    const dialog = document.querySelector("dialog");
    const showButton = document.querySelector("#sign-in-button");
    const closeButton = document.querySelector("#close-dialog");

    if (showButton) {
      showButton.addEventListener("click", () => {
        dialog.showModal();
      });
    }

    if (closeButton) {
      closeButton.addEventListener("click", () => {
        dialog.close();
      });
    }
  })
</script>



<nav class="bg-gray-800">
  <div class="container mx-auto px-4 sm:px-6 lg:px-8">
    <div class="relative flex h-16 items-center justify-between">
      <a href="#" class="text-white px-3 py-2 text-lg font-medium" aria-current="page">BookInfo Sample</a>
      <div class="absolute inset-y-0 right-0 flex items-center pr-2 sm:static sm:inset-auto sm:ml-6 sm:pr-0">
        
"""
_C_NAV_ANONYMOUS = """          <button type="button" id="sign-in-button" class="rounded-md bg-blue-600 px-3.5 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-blue-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-600">
            Sign in
          </button>
"""
_C_NAV_USER = """        <a href="#" class="group block flex-shrink-0">
          <div class="flex items-center">
            <div>
              <img class="inline-block h-9 w-9 rounded-full bg-blue-50" src="/static/img/izzy.png" alt="">
            </div>
            <div class="ml-4">
              <p class="text-base font-medium text-gray-50">{user}</p>
              <a href="logout" class="text-xs font-medium text-gray-400 hover:text-gray-300">Sign out</a>
            </div>
          </div>
        </a>
"""
_C_BODY_START = """        
      </div>
    </div>
  </div>
</nav>

<!-- Sign in dialog -->
<dialog id="dialog" class="w-full sm:w-2/3 lg:w-1/3 border rounded-md shadow-xl">
  <div class="flex min-h-full flex-col justify-center px-6 py-12 lg:px-8">
    <div class="absolute right-0 top-0 hidden pr-4 pt-4 sm:block">
      <button id="close-dialog" type="button" class="rounded-md bg-white text-gray-400 hover:text-gray-500 focus:outline-none focus:ring-2 focus:ring-blue-500 focus:ring-offset-2">
        <span class="sr-only">Close</span>
        <svg class="h-6 w-6" fill="none" viewBox="0 0 24 24" stroke-width="1.5" stroke="currentColor" aria-hidden="true">
          <path stroke-linecap="round" stroke-linejoin="round" d="M6 18L18 6M6 6l12 12" />
        </svg>
      </button>
    </div>
    <div class="sm:mx-auto sm:w-full sm:max-w-sm">
        <svg  class="mx-auto h-24 w-auto" xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 320 320"><g id="logo" fill="#466BB0"><polygon id="hull" points="80 250 240 250 140 280 80 250"/><polygon id="mainsail" points="80 240 140 230 140 120 80 240"/><polygon id="headsail" points="150 230 240 240 150 40 150 230"/></g></svg>
        <h2 class="mt-5 text-center text-2xl font-bold leading-9 tracking-tight text-gray-900">Sign in to BookInfo</h2>
    </div>
    <div class="mt-10 sm:mx-auto sm:w-full sm:max-w-sm">
      <form class="space-y-6" method="post" action='login' name="login_form">
        <div>
          <label for="email" class="block text-sm font-medium leading-6 text-gray-900">Username</label>
          <div class="mt-2">
            <input id="username" name="username" required class="block w-full px-3 rounded-md border-0 py-1.5 text-gray-900 shadow-sm ring-1 ring-inset ring-gray-300 placeholder:text-gray-400 focus:ring-2 focus:ring-inset focus:ring-blue-600 sm:text-sm sm:leading-6">
          </div>
        </div>
        <div>
          <div class="flex items-center justify-between">
            <label for="password" class="block text-sm font-medium leading-6 text-gray-900">Password</label>
          </div>
          <div class="mt-2">
            <input id="password" name="passwd" type="password" required class="block w-full px-3 rounded-md border-0 py-1.5 text-gray-900 shadow-sm ring-1 ring-inset ring-gray-300 placeholder:text-gray-400 focus:ring-2 focus:ring-inset focus:ring-blue-600 sm:text-sm sm:leading-6">
          </div>
        </div>
        <div>
          <button type="submit" class="flex w-full justify-center rounded-md bg-blue-600 px-3 py-1.5 text-sm font-semibold leading-6 text-white shadow-sm hover:bg-blue-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-blue-600">Sign in</button>
        </div>
      </form>
      <p class="mt-10 text-center text-sm text-gray-500">
        Not using Istio yet?
        <a href="https://istio.io" target="_blank" class="font-semibold leading-6 text-blue-600 hover:text-blue-500">Start here</a>
      </p>
    </div>
  </div>
</dialog>

<!-- Book description section -->
<div class="container mt-8 mx-auto px-4 sm:px-6 lg:px-8">
  <h1 class="text-5xl font-bold tracking-tight text-blue-900">{title}</h1>
  <div class="mt-6 max-w-4xl">
    
    <p class="mt-6 text-xl leading-8 text-gray-600">{description}</p>
    
    <div class="mt-6">
      <a href="https://istio.io" target="_blank" class="text-sm font-semibold leading-6 text-blue-600 hover:text-blue-700">Learn more about Istio <span aria-hidden="true">\u2192</span></a>
    </div>

  </div>
</div>

<!-- Book details table -->
<div class="container mt-8 mx-auto px-4 sm:px-6 lg:px-8">
  <div class="mt-4 py-10">
      <div class="max-w-2xl">
        <div class="flow-root">
          
"""
_C_DETAILS_OK = """          <h4 class="text-3xl font-semibold">Book Details</h4>
          <div class="-mx-4 -my-2 overflow-x-auto sm:-mx-6 lg:-mx-8">
            <div class="inline-block min-w-full py-2 align-middle sm:px-6 lg:px-8">
              <table class="min-w-full divide-y divide-gray-300">
                <thead>
                  <tr>
                    <th scope="col" class="whitespace-nowrap py-3.5 pl-4 pr-3 text-left text-sm font-semibold text-gray-900 sm:pl-0">ISBN-10</th>
                    <th scope="col" class="whitespace-nowrap px-2 py-3.5 text-left text-sm font-semibold text-gray-900">Publisher</th>
                    <th scope="col" class="whitespace-nowrap px-2 py-3.5 text-left text-sm font-semibold text-gray-900">Pages</th>
                    <th scope="col" class="whitespace-nowrap px-2 py-3.5 text-left text-sm font-semibold text-gray-900">Type</th>
                    <th scope="col" class="whitespace-nowrap px-2 py-3.5 text-left text-sm font-semibold text-gray-900">Language</th>
                  </tr>
                </thead>
                <tbody class="divide-y divide-gray-200 bg-white">
                  <tr>
                    <td class="whitespace-nowrap py-2 pl-4 pr-3 text-sm text-gray-500 sm:pl-0">{isbn10}</td>
                    <td class="whitespace-nowrap px-2 py-2 text-sm font-medium text-gray-900">{publisher}</td>
                    <td class="whitespace-nowrap px-2 py-2 text-sm text-gray-900">{pages}</td>
                    <td class="whitespace-nowrap px-2 py-2 text-sm text-gray-500">{type}</td>
                    <td class="whitespace-nowrap px-2 py-2 text-sm text-gray-500">{language}</td>
                  </tr>
                </tbody>
              </table>
            </div>
          </div>
"""
_C_DETAILS_ERROR = """          <p class="text-2xl text-red-500">Error fetching product details</p>
          
          <p class="text-lg text-gray-600">{error}</p>
          
"""
_C_BETWEEN = """          
        </div>
      </div>
  </div>
</div>

<!-- Book reviews section -->
<div class="bg-blue-600/5 py-12 mx-auto" >
  <div class="container mx-auto px-4 sm:px-6 lg:px-8>
    <div class="max-w-2xl">
      
"""
_C_REVIEWS_OK_START = """      <h4 class="text-3xl font-semibold">Book Reviews</h4>
      <div class="flex flex-col md:flex-row">
        
"""
_C_REVIEW = """        <section class="px-6 py-12 sm:py-8 lg:px-8">
          <div class="mx-auto max-w-2xl">
            
{rating}            <blockquote class="mt-10 text-xl font-semibold leading-8 tracking-tight text-gray-900 sm:text-2xl sm:leading-9">
              <p>"{text}"</p>
            </blockquote>
            <div class="mt-4 flex items-center gap-x-6">
              <img class="h-16 w-16 rounded-full bg-gray-50" src="/static/img/izzy.png" alt="Izzy">
  
              <div class="text-sm leading-6">
                <div class="font-semibold text-gray-900">{reviewer}</div>
                <div class="mt-0.5 text-gray-600 font-mono">Reviews served by: 
                  {pod}
                  
{cluster}                </div>
              </div>
            </div>
        </section>
        
"""
_C_CLUSTER = "                  on cluster <div>{cluster}</div>\n                  \n"
_C_RATING_STARS = """            <div class="flex gap-x-1 text-{color}-500">
              
{full}              
{empty}            </div>
"""
_C_FULL_STAR = """              <svg id="glyphicon glyphicon-star" class="h-5 w-5 flex-none" viewBox="0 0 20 20" fill="currentColor" aria-hidden="true">
                <path fill-rule="evenodd" d="M10.868 2.884c-.321-.772-1.415-.772-1.736 0l-1.83 4.401-4.753.381c-.833.067-1.171 1.107-.536 1.651l3.62 3.102-1.106 4.637c-.194.813.691 1.456 1.405 1.02L10 15.591l4.069 2.485c.713.436 1.598-.207 1.404-1.02l-1.106-4.637 3.62-3.102c.635-.544.297-1.584-.536-1.65l-4.752-.382-1.831-4.401z" clip-rule="evenodd" />
              </svg>
              
"""
_C_EMPTY_STAR = """              <svg xmlns="http://www.w3.org/2000/svg" fill="none" viewBox="0 0 24 24" stroke-width="1.5" stroke="currentColor" class="h-5 w-5 flex-none">
                <path stroke-linecap="round" stroke-linejoin="round" d="M11.48 3.499a.562.562 0 0 1 1.04 0l2.125 5.111a.563.563 0 0 0 .475.345l5.518.442c.499.04.701.663.321.988l-4.204 3.602a.563.563 0 0 0-.182.557l1.285 5.385a.562.562 0 0 1-.84.61l-4.725-2.885a.562.562 0 0 0-.586 0L6.982 20.54a.562.562 0 0 1-.84-.61l1.285-5.386a.562.562 0 0 0-.182-.557l-4.204-3.602a.562.562 0 0 1 .321-.988l5.518-.442a.563.563 0 0 0 .475-.345L11.48 3.5Z" />
              </svg>
              
"""
_C_RATING_ERROR = '            <p class="text-red-500">{error}</p>\n'
_C_RATING_WRAP = "            \n{inner}            \n            \n"
_C_REVIEWS_OK_END = """      </div>
"""
_C_REVIEWS_ERROR = """      <p class="text-2xl text-red-500">Error fetching product reviews</p>
      
      <p class="text-lg text-gray-600">{error}</p>
      
"""
_C_TAIL = """      
    </div>
    </div>
  </div>
</div>
"""


_CACHE_LIMIT = 256


class PageRenderer:
    """Renders productpage for one era; cheap on repeated inputs."""

    def __init__(self, era: Era) -> None:
        self.era = era
        self._tailwind = era is Era.C
        title, description = escape(PRODUCT["title"]), PRODUCT["descriptionHtml"]
        if self._tailwind:
            self._head = _C_HEAD
            self._body_start = _C_BODY_START.format(title=title, description=description)
            self._between, self._tail = _C_BETWEEN, _C_TAIL
        else:
            self._head = _AB_HEAD
            self._body_start = _AB_BODY_START.format(title=title, description=description)
            self._between, self._tail = _AB_BETWEEN, _AB_TAIL
        self._nav: dict[str | None, str] = {}
        self._details: dict[tuple[int, bytes], str] = {}
        self._reviews: dict[tuple[int, bytes], str] = {}

    def render(
        self,
        *,
        user: str | None,
        details_status: int,
        details: Mapping[str, Any] | bytes,
        reviews_status: int,
        reviews: Mapping[str, Any] | bytes,
    ) -> bytes:
        """The whole page. `details`/`reviews` are the parsed JSON, or the raw 200 body (cached by value)."""
        return "".join(
            (
                self._head,
                self._nav_for(user),
                self._body_start,
                self._section(self._details, self._render_details, details_status, details),
                self._between,
                self._section(self._reviews, self._render_reviews, reviews_status, reviews),
                self._tail,
            )
        ).encode()

    @staticmethod
    def _section(cache: dict[tuple[int, bytes], str], render: Any, status: int, data: Any) -> str:
        if not isinstance(data, bytes):
            return render(status, data)
        key = (status, data)
        html = cache.get(key)
        if html is None:
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                # The real app would fail with a 500 here; the lab shows the section's error instead.
                status, parsed = 500, {"error": ""}
            html = render(status, parsed)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = html
        return html

    def _nav_for(self, user: str | None) -> str:
        nav = self._nav.get(user)
        if nav is None:
            name = escape(user)
            if self._tailwind:
                nav = _C_NAV_USER.format(user=name) if user else _C_NAV_ANONYMOUS
            else:
                nav = (_AB_NAV_USER.format(user=name) if user else _AB_NAV_ANONYMOUS) + _AB_DEAD_NAV_START
                nav += _AB_DEAD_NAV_USER.format(user=name) if user else _AB_DEAD_NAV_ANONYMOUS
            if len(self._nav) >= _CACHE_LIMIT:
                self._nav.clear()
            self._nav[user] = nav
        return nav

    def _render_details(self, status: int, details: Mapping[str, Any]) -> str:
        if status != 200:
            template = _C_DETAILS_ERROR if self._tailwind else _AB_DETAILS_ERROR
            return template.format(error=escape(details.get("error")))
        template = _C_DETAILS_OK if self._tailwind else _AB_DETAILS_OK
        return template.format(
            type=escape(details.get("type")),
            pages=escape(details.get("pages")),
            publisher=escape(details.get("publisher")),
            language=escape(details.get("language")),
            isbn10=escape(details.get("ISBN-10")),
            isbn13=escape(details.get("ISBN-13")),
        )

    def _render_reviews(self, status: int, reviews: Mapping[str, Any]) -> str:
        if status != 200:
            template = _C_REVIEWS_ERROR if self._tailwind else _AB_REVIEWS_ERROR
            return template.format(error=escape(reviews.get("error")))
        pod = escape(reviews.get("podname"))
        # Jinja: `reviews.clustername != "null"` is also true when the key is missing (pre-1.16.4 reviews).
        cluster_name = reviews.get("clustername")
        shows_cluster = cluster_name != "null"
        items = reviews.get("reviews") or []
        if self._tailwind:
            cluster = _C_CLUSTER.format(cluster=escape(cluster_name)) if shows_cluster else ""
            parts = [_C_REVIEWS_OK_START]
            for review in items:
                parts.append(
                    _C_REVIEW.format(
                        rating=self._rating(review),
                        text=escape(review.get("text")),
                        reviewer=escape(review.get("reviewer")),
                        pod=pod,
                        cluster=cluster,
                    )
                )
            parts.append(_C_REVIEWS_OK_END)
            return "".join(parts)
        parts = [_AB_REVIEWS_OK_START]
        for review in items:
            parts.append(
                _AB_REVIEW.format(
                    text=escape(review.get("text")),
                    reviewer=escape(review.get("reviewer")),
                    rating=self._rating(review),
                )
            )
        if self.era is Era.B:
            cluster = _AB_CLUSTER.format(cluster=escape(cluster_name)) if shows_cluster else ""
            parts.append(_AB_SERVED_BY.format(pod=pod, cluster=cluster))
        return "".join(parts)

    def _rating(self, review: Mapping[str, Any]) -> str:
        rating = review.get("rating")
        if not rating:
            return ""
        stars = rating.get("stars")
        if stars:
            count = max(0, min(int(stars), 5))
            if self._tailwind:
                inner = _C_RATING_STARS.format(
                    color=escape(rating.get("color")),
                    full=_C_FULL_STAR * count,
                    empty=_C_EMPTY_STAR * (5 - count),
                )
            else:
                inner = _AB_RATING_STARS.format(
                    color=escape(rating.get("color")),
                    full=_AB_FULL_STAR * count,
                    empty=_AB_EMPTY_STAR * (5 - count),
                )
        elif rating.get("error"):
            template = _C_RATING_ERROR if self._tailwind else _AB_RATING_ERROR
            inner = template.format(error=escape(rating["error"]))
        else:
            inner = ""
        return (_C_RATING_WRAP if self._tailwind else _AB_RATING_WRAP).format(inner=inner)


# --- index page (`/` and `/index.html`) -------------------------------------------------------------------

_TABLE = '<table class="table table-condensed table-bordered table-hover">'


def _service_table(service: Mapping[str, Any]) -> str:
    """json2html's rendering of productpage's service tree (top level: one row per key)."""

    def children(items: list[Mapping[str, Any]]) -> str:
        if not items:
            return ""
        rows = "".join(
            f"<tr><td>{escape(c['name'])}</td><td>{escape(c['endpoint'])}</td>"
            f"<td>{children(c.get('children', []))}</td></tr>"
            for c in items
        )
        return (
            f"{_TABLE}<thead><tr><th>name</th><th>endpoint</th><th>children</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )

    return (
        f"{_TABLE}<tr><th>name</th><td>{escape(service['name'])}</td></tr>"
        f"<tr><th>endpoint</th><td>{escape(service['endpoint'])}</td></tr>"
        f"<tr><th>children</th><td>{children(service.get('children', []))}</td></tr></table>"
    )


_INTRO = "Hello! This is a simple bookstore application consisting of three services as shown below"
_CLICK = (
    "Click on one of the links below to auto generate a request to the backend as a real user or a tester"
)


def render_index(era: Era, service: Mapping[str, Any]) -> bytes:
    """The index page with the service table and the two `/productpage?u=` links."""
    table = _service_table(service)
    if era is Era.C:
        page = (
            '\n<meta charset="utf-8">\n<script src="static/tailwind/tailwind.css"></script>\n\n'
            '<div class="mx-auto px-4 sm:px-6 lg:px-8">\n'
            '    <div class="flex flex-col space-y-5 py-32 mx-auto max-w-7xl">\n'
            f'        <h3 class="text-2xl">{_INTRO}\n        </h3>\n        \n        {table}\n        \n'
            f"        <p>\n            {_CLICK}\n        </p>\n        <ul>\n"
            '            <li>\n                <a href="/productpage?u=normal" class="text-blue-500 '
            'hover:text-blue-600">Normal user</a>\n            </li>\n'
            '            <li>\n                <a href="/productpage?u=test" class="text-blue-500 '
            'hover:text-blue-600">Test user</a>\n            </li>\n'
            "        </ul>\n    </div>\n</div>\n"
        )
    else:
        page = (
            "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Simple Bookstore App</title>\n"
            '<link rel="stylesheet" href="static/bootstrap/css/bootstrap.min.css">\n  </head>\n  <body>\n'
            f"<p>\n    <h3>{_INTRO}</h3>\n</p>\n\n{table}\n\n<p>\n    <h4>{_CLICK}\n    </h4>\n</p>\n"
            '<p><a href="/productpage?u=normal">Normal user</a></p>\n'
            '<p><a href="/productpage?u=test">Test user</a></p>\n'
            '<script src="static/jquery.min.js"></script>\n'
            '<script src="static/bootstrap/js/bootstrap.min.js"></script>\n  </body>\n</html>\n'
        )
    return page.encode()
