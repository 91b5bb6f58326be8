"""One webhook delivery: a signed JSON POST of one event, and what went wrong.

The body is the event (its ``to_dict()``: a registry event, later an alert or a
trigger) as compact JSON. Headers:
``X-Loopml-Event`` (the kind), ``X-Loopml-Delivery`` (the event id: a receiver drops
duplicates by it, since delivery is at least once) and, when the webhook has a secret,
``X-Loopml-Signature: sha256=<HMAC-SHA256 of the body>``. Redirects are not followed:
a 3xx is a failure, so an event never lands somewhere nobody configured.

Example:
    >>> sign("s3cret", b"{}")[:7]
    'sha256='
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from loopml.webhooks.models import Event

__all__ = ["body_of", "post", "sign"]

_USER_AGENT = "loopml-webhooks/1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx


_OPENER = urllib.request.build_opener(_NoRedirects)


def body_of(event: Event) -> bytes:
    """The JSON body delivered for ``event``."""
    return json.dumps(event.to_dict(), separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The ``X-Loopml-Signature`` header value of ``body``.

    A receiver recomputes it with the shared secret and compares with
    :func:`hmac.compare_digest`.
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, event: Event, secret: str | None, timeout: float) -> str | None:
    """POST ``event`` to ``url``; ``None`` on a 2xx answer, else what went wrong."""
    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "X-Loopml-Event": event.kind,
        "X-Loopml-Delivery": str(event.id),
    }
    if secret:
        headers["X-Loopml-Signature"] = sign(secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} {err.reason}"
    except urllib.error.URLError as err:
        return f"cannot reach {url}: {err.reason}"
    except (OSError, http.client.HTTPException) as err:  # timeouts, resets, bad answers
        return f"delivery to {url} failed: {type(err).__name__}: {err}"
    return None if 200 <= status < 300 else f"HTTP {status}"
