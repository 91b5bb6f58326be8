"""Model serving: deployments bound to registry aliases, served over HTTP.

A deployment is a record (model, the alias or aliases it follows, a traffic policy,
payload-log settings, resources); a server process holds an :class:`Endpoint` per
deployment and swaps its routing when the alias moves or the policy changes. Requests
come in over the Open Inference Protocol (V2), MLflow's scoring format or simple JSON;
every prediction is handed to monitoring's payload log.
"""

from __future__ import annotations

from loopml.serving.batching import Batcher, BatchReport, RequestTiming, batcher_for
from loopml.serving.control import open_endpoint
from loopml.serving.deployments import DeploymentClient
from loopml.serving.follow import Follower, start_following
from loopml.serving.models import Deployment, DeploymentRevision, ServedRange
from loopml.serving.policy import KEY_HEADER, PayloadLogSettings, Resources, Route, TrafficPolicy
from loopml.serving.runtime import Endpoint, Routing, ServedVersion

__all__ = [
    "KEY_HEADER",
    "BatchReport",
    "Batcher",
    "Deployment",
    "DeploymentClient",
    "DeploymentRevision",
    "Endpoint",
    "Follower",
    "PayloadLogSettings",
    "RequestTiming",
    "Resources",
    "Route",
    "Routing",
    "ServedRange",
    "ServedVersion",
    "TrafficPolicy",
    "batcher_for",
    "open_endpoint",
    "start_following",
]
