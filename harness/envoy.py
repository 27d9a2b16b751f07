"""Envoy's local replies as a client sees them: status, body and response flag.

Pure: a table shared by the lab's mesh (which must answer like Envoy) and the classifier (which reads a mesh
error back into a flag). Bodies are Envoy's own strings (router, fault filter); NR and NC replies are empty.
"""

from __future__ import annotations

from dataclasses import dataclass

RESET_BEFORE_HEADERS = "upstream connect error or disconnect/reset before headers. reset reason: "


@dataclass(frozen=True, slots=True)
class LocalReply:
    flag: str
    status: int
    body: bytes


NO_ROUTE = LocalReply("NR", 404, b"")
NO_CLUSTER = LocalReply("NC", 503, b"")
NO_HEALTHY_UPSTREAM = LocalReply("UH", 503, b"no healthy upstream")
UPSTREAM_TIMEOUT = LocalReply("UT", 504, b"upstream request timeout")
OVERFLOW = LocalReply("UO", 503, (RESET_BEFORE_HEADERS + "overflow").encode())
CONNECT_FAILURE = LocalReply("UF", 503, (RESET_BEFORE_HEADERS + "connection failure").encode())
# After the retry budget is spent on connect failures Envoy reports URX with the same body.
RETRIES_EXHAUSTED = LocalReply("URX", 503, (RESET_BEFORE_HEADERS + "connection failure").encode())
FAULT_ABORT_BODY = b"fault filter abort"


def fault_abort(status: int) -> LocalReply:
    return LocalReply("FI", status, FAULT_ABORT_BODY)


def flag_for(status: int, body: bytes) -> str | None:
    """Best reading of the response flag from what a client receives (None for an ordinary response)."""
    text = body.strip()
    if text == FAULT_ABORT_BODY:
        return "FI"
    if text == NO_HEALTHY_UPSTREAM.body:
        return "UH"
    if status == 504 and text == UPSTREAM_TIMEOUT.body:
        return "UT"
    if text.startswith(RESET_BEFORE_HEADERS.encode()):
        reason = text[len(RESET_BEFORE_HEADERS) :].decode(errors="replace")
        return "UO" if reason == "overflow" else "UF"
    if not text and status == 404:
        return "NR"
    if not text and status == 503:
        return "NC"
    return None
