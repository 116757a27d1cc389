"""Is the Hugging Face Hub usable right now? Asked once per process.

Libraries retry an unreachable Hub with back-off for tens of seconds per call;
one short connection probe lets every task and model fail fast instead.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

OFFLINE_ENV_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def offline_reason() -> str | None:
    """Why the Hub cannot be used (an env variable, or unreachable), or None when it can."""
    for var in OFFLINE_ENV_VARS:
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var} is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if not _reachable(endpoint):
        return f"{urlparse(endpoint).hostname} is unreachable"
    return None


@functools.cache
def _reachable(endpoint: str, timeout: float = 3.0) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False
