"""Automation: the controller that closes the loop (floor 5, over serving and below it).

:class:`~loopml.automation.agent.Agent` (``loopml agent``) fires registered pipelines on
their schedules and triggers, on ``loopml trigger`` and webhook calls, and on drift and
performance alerts; each firing starts a rollout plan: train -> register -> evaluate
against the champion with the model's gates -> approval where the registry policy asks
for one -> canary on the deployment -> watch -> promote, or roll back. A model's
:class:`~loopml.automation.models.AutomationPolicy` says what happens on its own.
:class:`~loopml.automation.client.AutomationClient` stores policies and requests and
reads plans and the loop's status; :mod:`loopml.automation.hooks` serves webhook calls.
:func:`loopml.automation.reproduce.reproduce` (``loopml reproduce``) re-runs the pipeline
that made a version and compares the metrics.

Example:
    >>> from loopml.automation import AutomationClient, AutomationPolicy, Agent
    >>> AutomationClient().set_policy("churn", AutomationPolicy(pipeline="train"))  # doctest: +SKIP
    >>> Agent().run_once().created  # doctest: +SKIP
    [1]
"""

from __future__ import annotations

from loopml.automation.agent import Agent
from loopml.automation.client import AutomationClient
from loopml.automation.lease import Lease, LeaseLostError
from loopml.automation.models import (
    ENDED,
    TRIGGER_KINDS,
    AutomationPolicy,
    PassReport,
    Plan,
    parse_duration,
)

__all__ = [
    "ENDED",
    "TRIGGER_KINDS",
    "Agent",
    "AutomationClient",
    "AutomationPolicy",
    "Lease",
    "LeaseLostError",
    "PassReport",
    "Plan",
    "parse_duration",
]
