"""Kubernetes-style generated names: pod-template hashes and random pod suffixes. Pure."""

from __future__ import annotations

import hashlib
import json
import random

# The alphabet Kubernetes uses for generated names (no vowels, no look-alike digits).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: object) -> str:
    """A stable 10-character hash of a pod template; a changed template gives a new hash (a rollout)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        value, index = divmod(value, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[index])
    return "".join(chars)


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))
