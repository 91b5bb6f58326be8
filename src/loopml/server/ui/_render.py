"""How the web UI's pages are declared, signed in, rendered and refused.

Every page is an operation on an :class:`~loopml.server.api.Api` declared through
:func:`page`: it is answered without a token (so a browser with no cookie gets a redirect
to ``/login`` rather than a JSON 401), then checks the caller itself, renders a Jinja2
template from ``templates/`` and turns loopml errors into an HTML page with the error's
status (a viewer who presses *approve* reads why they may not).
"""

from __future__ import annotations

import functools
import math
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from loopml._html import human_bytes, short, when
from loopml.errors import ForbiddenError, LoopmlError
from loopml.server.api import Api, Call, Reply

__all__ = ["HTML", "form", "object_link", "page", "redirect", "render"]

HTML = "text/html; charset=utf-8"
TEMPLATES = Path(__file__).parent / "templates"

PageHandler = Callable[[Call], Any]


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["short"] = short
    env.filters["bytes"] = human_bytes
    env.filters["num"] = _number
    env.filters["q"] = lambda value: urllib.parse.quote(str(value), safe="")
    env.globals["object_link"] = object_link
    return env


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.6g}"


def render(call: Call, template: str, *, status: int = 200, **values: Any) -> Reply:
    """``template`` rendered with ``values`` (and who is signed in) as an HTML reply."""
    body = (
        _environment()
        .get_template(template)
        .render(
            user=call.principal.user if _signed_in(call) else None,
            tokens=call.ctx.config.auth != "none",
            **values,
        )
    )
    return Reply(body.encode("utf-8"), status, HTML, {"Cache-Control": "no-store"})


def redirect(location: str, headers: dict[str, str] | None = None) -> Reply:
    """A 303 to ``location`` (after a form: the browser GETs it)."""
    return Reply(b"", 303, HTML, {"Location": location, **(headers or {})})


def form(call: Call) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (last value wins)."""
    fields = urllib.parse.parse_qs(call.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _signed_in(call: Call) -> bool:
    return call.ctx.config.auth == "none" or call.principal.authenticated


def _here(path: str, call: Call) -> str:
    """The page's own address (for ``/login?next=``)."""
    here = path.format(**{k: urllib.parse.quote(v, safe="") for k, v in call.path.items()})
    query = urllib.parse.urlencode([(k, v) for k, vs in call.query.items() for v in vs])
    return here + (f"?{query}" if query else "")


def _same_origin(call: Call) -> None:
    """Refuse a form posted from another site (the token-free mode has no cookie to guard it)."""
    origin = call.headers.get("origin")
    if origin is None or origin == "null":
        origin = call.headers.get("referer")
    if origin is None:
        return
    host = urllib.parse.urlsplit(origin).netloc
    if host != call.headers.get("host"):
        raise ForbiddenError(
            f"this form was sent from {origin}, not from this server's own pages; "
            "open the page on this server and send it again"
        )


def page(
    api: Api, path: str, *, method: str = "GET", summary: str, login: bool = True
) -> Callable[[PageHandler], PageHandler]:
    """Declare an HTML page (or a form's target) ``method path`` on ``api``.

    With ``login`` the caller must be signed in (in ``--auth tokens`` mode) with at least
    the viewer role; stricter checks (approver on a model) are the handler's.
    """

    def declare(handler: PageHandler) -> PageHandler:
        @functools.wraps(handler)
        def answer(call: Call) -> Any:
            try:
                if method != "GET":
                    _same_origin(call)
                if login:
                    if not _signed_in(call):
                        target = urllib.parse.quote(_here(path, call), safe="")
                        return redirect(f"/login?next={target}")
                    call.require("viewer", action=f"view {path}")
                return handler(call)
            except LoopmlError as err:
                return render(call, "error.j2", status=err.http_status, error=err, title="Refused")

        api.route(method, path, summary=summary, public=True, body=method != "GET", tag="ui")(
            answer
        )
        return handler

    return declare


def object_link(kind: str, ident: str) -> str | None:
    """The UI page of a lineage node, when it has one."""
    quote = urllib.parse.quote
    if kind == "run":
        return f"/runs/{quote(ident, safe='')}"
    name, _, version = ident.rpartition("/")
    if kind == "model_version" and name and version.isdigit():
        return f"/models/{quote(name, safe='')}/versions/{version}"
    if kind == "dataset_version" and name and version.isdigit():
        return f"/datasets/{quote(name, safe='')}/versions/{version}"
    if kind == "feature_view":
        return f"/features/{quote(name or ident, safe='')}"
    return None
