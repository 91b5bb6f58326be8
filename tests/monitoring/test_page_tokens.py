"""Windows and alerts pages refuse a page token they did not make (a crafted one too)."""

from __future__ import annotations

import base64
import json

import pytest

from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.monitoring import MonitorClient


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


@pytest.mark.parametrize("key", ["abc", 1e30, 2**64, -1, 0, True, None, [1]])
def test_a_crafted_alerts_token_is_refused(settings: Settings, key: object) -> None:
    with pytest.raises(InvalidInputError, match="page_token"):
        MonitorClient(settings).alerts(page_token=_token(key))


def test_a_token_this_listing_made_still_works(settings: Settings) -> None:
    page = MonitorClient(settings).alerts(page_token=_token(2**63 - 1))
    assert page.items == []
    assert page.next_page_token is None
