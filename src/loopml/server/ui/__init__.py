"""The web UI: server-rendered pages (Jinja2) over the components' clients.

No Node build and nothing from a CDN: the stylesheet and the small progressive script are
in ``static/``, and charts use plotly's own bundled ``plotly.min.js``, served from
``/static/plotly.min.js``. Pages are operations on :data:`api` (``loopml.server.api``), so
they share the REST API's sign-in, worker threads and audit.
"""

from __future__ import annotations

from loopml.server.api import Api
from loopml.server.ui import details, more, pages

__all__ = ["api"]

api = Api("", tag="ui")
api.include(pages.api)
api.include(more.api)
api.include(details.api)
