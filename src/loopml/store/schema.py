"""The metadata schema (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated database with this metadata so the two never drift apart.
Times are Unix milliseconds (BIGINT) so that ordering and filtering are cheap and
identical on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_HEAD",
    "access_grants",
    "alias_history",
    "api_tokens",
    "approvals",
    "artifact_files",
    "audit_log",
    "automation_cursors",
    "automation_lease",
    "automation_plans",
    "automation_policies",
    "automation_requests",
    "dataset_versions",
    "datasets",
    "deployment_revisions",
    "deployment_served",
    "deployments",
    "environments",
    "experiment_tags",
    "experiments",
    "feature_definitions",
    "feedback",
    "journal_checkpoints",
    "latest_metrics",
    "lineage_edges",
    "materializations",
    "metadata",
    "metric_rollups",
    "metrics",
    "model_aliases",
    "model_evaluations",
    "model_versions",
    "monitor_alerts",
    "monitor_events",
    "monitor_webhooks",
    "monitor_windows",
    "monitors",
    "params",
    "payload_segments",
    "pipeline_runs",
    "registered_models",
    "registered_pipelines",
    "registry_events",
    "registry_webhooks",
    "request_keys",
    "roles",
    "runs",
    "step_runs",
    "tags",
    "users",
]

# The Alembic revision these tables correspond to; a test keeps it equal to the head.
SCHEMA_HEAD = "0014_metric_rollups"

ID = String(32)
KEY = String(250)
# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid alias.
BIG_ID = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
)

# Tags of an experiment (mutable, like a run's tags); searched by search_experiments.
experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ID, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("body", JSON, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", ID, nullable=True),
    Column("user", String(250), nullable=True),
    Column("host", String(250), nullable=True),
    Column("owner", Text, nullable=True),  # host and lock file of the process running it
    Column("environment_digest", String(64), ForeignKey("environments.digest"), nullable=True),
    Column("deleted_at", BigInteger, nullable=True),
    Index(None, "experiment_id", "start_time"),
    Index(None, "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

# Every logged point. NaN is stored as value 0 with is_nan set: SQLite turns NaN into NULL.
metrics = Table(
    "metrics",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("run_id", ID, nullable=False),
    Column("key", KEY, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "run_id", "key", "step", "timestamp"),
)

# The point with the largest (step, timestamp) per run and key: what search filters on.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float(precision=53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "key", "value"),
)

# Per run, metric and level, one row per aligned block of 2**level steps: its point count,
# first and last step, and lowest and highest point, so a chart of a long history reads
# blocks instead of points (loopml.tracking._charts). Kept at ingestion, never rewritten.
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("run_id", ID, primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("level", SmallInteger, primary_key=True),
    Column("block", BigInteger, primary_key=True),
    Column("points", BigInteger, nullable=False),
    Column("nans", BigInteger, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("low", Float(precision=53), nullable=True),  # NULL: the block holds NaN only
    Column("low_step", BigInteger, nullable=True),
    Column("low_ts", BigInteger, nullable=True),
    Column("high", Float(precision=53), nullable=True),
    Column("high_step", BigInteger, nullable=True),
    Column("high_ts", BigInteger, nullable=True),
)

# Which metric journal records are already in the database (exactly-once ingestion).
journal_checkpoints = Table(
    "journal_checkpoints",
    metadata,
    Column("journal_id", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

# Logical files of every owner (a run's artifacts, later dataset and model files) -> blobs.
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("owner_kind", String(32), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "digest"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("src_kind", String(32), nullable=False),
    Column("src_id", String(250), nullable=False),
    Column("edge", String(32), nullable=False),
    Column("dst_kind", String(32), nullable=False),
    Column("dst_id", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attributes", JSON, nullable=True),
    Index(None, "src_kind", "src_id"),
    Index(None, "dst_kind", "dst_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_kind", String(32), nullable=False),
    Column("object_id", String(250), nullable=False),
    Column("reason", Text, nullable=True),
    Column("details", JSON, nullable=True),
    Index(None, "object_kind", "object_id"),
)


# -- data: dataset versions (0002) ----------------------------------------------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

# An immutable snapshot. Its files are artifact_files rows with owner_kind "dataset_version"
# and owner_id = id; ``digest`` names the content, so the same content is the same version.
dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # "table" or "files"
    Column("format", String(16), nullable=False),  # "parquet", "csv", "files"
    Column("row_count", BigInteger, nullable=True),
    Column("file_count", BigInteger, nullable=False),
    Column("byte_size", BigInteger, nullable=False),
    Column("schema", JSON, nullable=True),
    Column("profile", JSON, nullable=True),
    Column("source", Text, nullable=True),
    Column("run_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "digest"),
)

# -- features: the registry of definitions (0002) -------------------------------------

# Every applied version of an entity, feature view or on-demand transformation.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", String(250), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
)

# What has been materialized into the online store, per feature view (the watermark).
materializations = Table(
    "materializations",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("feature_view", String(250), nullable=False),
    Column("view_version", Integer, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("online_store", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "feature_view", "end_time"),
)


# -- pipelines: runs of pipelines and their steps, registrations (0003) -------------------

# A pipeline run is a tracked run (same id) with the graph it ran and how to run it again.
pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("pipeline", String(250), nullable=False),
    Column("entrypoint", Text, nullable=True),  # "module:attr" or "path/file.py:attr"
    Column("params", JSON, nullable=False),
    Column("spec", JSON, nullable=False),  # the traced graph: nodes, edges, options
    Column("executor", String(250), nullable=False),
    Column("cache", Boolean, nullable=False),
    Column("resumed_from", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "pipeline", "created_at"),
)

# One row per node of a pipeline run. ``run_id`` is the tracked run that executed the
# step; a cached step points at the earlier run whose outputs it reuses (``cached_from``).
step_runs = Table(
    "step_runs",
    metadata,
    Column("pipeline_run_id", ID, primary_key=True),
    Column("node", String(250), primary_key=True),
    Column("step", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("run_id", ID, nullable=True),
    Column("cache_key", String(64), nullable=True),
    Column("key_parts", JSON, nullable=True),
    Column("cached_from", ID, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("outputs", JSON, nullable=True),
    Column("reason", Text, nullable=True),  # why it was cached, missed, or skipped
    Column("error", Text, nullable=True),
    Column("traceback", Text, nullable=True),
    Index(None, "cache_key", "status"),
    Index(None, "run_id"),
)

# A pipeline stored with its schedule and triggers, for the automation controller.
registered_pipelines = Table(
    "registered_pipelines",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("entrypoint", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("executor", String(250), nullable=True),
    Column("schedule", String(250), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("triggers", JSON, nullable=False),
    Column("source_digest", String(64), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(250), nullable=True),
)


# -- registry: models, versions, aliases, governance, events (0004) -----------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("description", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("policy", JSON, nullable=True),  # the promotion policy (gates, approval, role)
    Column("next_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# A version's package files are artifact_files rows with owner_kind "model_version" and
# owner_id = id, copied from the run (or the local package) when it is registered.
model_versions = Table(
    "model_versions",
    metadata,
    Column("model", String(250), ForeignKey("registered_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("id", ID, nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("source", Text, nullable=False),  # runs:/… URI or the local package path
    Column("run_id", ID, nullable=True),
    Column("flavor", String(255), nullable=False),
    Column("package_digest", String(64), nullable=False),  # SHA-256 of model.json
    Column("size_bytes", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("status_changed_at", BigInteger, nullable=False),
    Index(None, "run_id"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model", String(250), ForeignKey("registered_models.name"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(250), nullable=True),
)

# Every alias move, in order: "what was in production last Tuesday" reads this table.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("model", String(250), nullable=False),
    Column("alias", String(250), nullable=False),
    Column("version", Integer, nullable=True),  # NULL: the alias was removed
    Column("previous_version", Integer, nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("reason", Text, nullable=True),
    Index(None, "model", "alias", "at"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("model", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("decision", String(16), nullable=False),  # "approved" or "rejected"
    Column("actor", String(250), nullable=False),
    Column("role", String(64), nullable=True),
    Column("comment", Text, nullable=True),
    Column("at", BigInteger, nullable=False),
    Index(None, "model", "version"),
)

# Who holds which role (approvers); the server's tokens map onto the same users.
roles = Table(
    "roles",
    metadata,
    Column("user", String(250), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("granted_at", BigInteger, nullable=False),
    Column("granted_by", String(250), nullable=True),
)

# One evaluation of a model (a version, or a run's package) on one dataset.
model_evaluations = Table(
    "model_evaluations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=True),
    Column("version", Integer, nullable=True),
    Column("model_uri", Text, nullable=False),
    Column("data", Text, nullable=False),  # datasets:/… URI, or a description of the frame
    Column("target", String(250), nullable=False),
    Column("task", String(32), nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("slices", JSON, nullable=False),
    Column("champion", JSON, nullable=True),  # {uri, version, metrics, slices} or NULL
    Column("gates", JSON, nullable=False),  # [{gate, passed, skipped, reason, …}]
    Column("passed", Boolean, nullable=True),  # NULL when no gate was asked for
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Index(None, "model", "version", "created_at"),
    # 0005: what could not be measured and why; figure name -> digest of its plotly JSON
    # (the blobs are also artifact_files rows of owner "evaluation", which gc keeps).
    Column("notes", JSON, nullable=True),
    Column("figures", JSON, nullable=True),
)

# Every registry change, in order; ``id`` is the cursor consumers (webhooks, the
# automation controller) remember.
registry_events = Table(
    "registry_events",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("model", String(250), nullable=False),
    Column("version", Integer, nullable=True),
    Column("actor", String(250), nullable=False),
    Column("payload", JSON, nullable=False),
    Index(None, "model", "id"),
)


# A webhook delivers events after its cursor, in order, at least once. Every component's
# subscriptions table has these columns (the shared dispatcher reads them): ``model`` is
# the scope a subscription narrows to (a model for the registry, a monitor for monitoring).
def _webhooks_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", ID, primary_key=True),
        Column("url", Text, nullable=False),
        Column("events", JSON, nullable=False),  # event kinds to deliver; [] means all
        Column("model", String(250), nullable=True),  # NULL: every model (monitor)
        Column("secret", Text, nullable=True),  # signs the body (HMAC-SHA256)
        Column("cursor", BigInteger, nullable=False),
        Column("enabled", Boolean, nullable=False),
        Column("failures", Integer, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("last_delivery_at", BigInteger, nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("created_by", String(250), nullable=True),
    )


registry_webhooks = _webhooks_table("registry_webhooks")


# -- monitoring: the payload log's segments (0008) ------------------------------------

# One Parquet file of logged predictions, visible once its blob is fully written. The
# blob is also an artifact_files row of owner "payload_segment", which gc keeps.
payload_segments = Table(
    "payload_segments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment", String(250), nullable=False),
    Column("start_ms", BigInteger, nullable=False),  # the earliest row's time_ms
    Column("end_ms", BigInteger, nullable=False),  # the latest row's time_ms (inclusive)
    Column("row_count", BigInteger, nullable=False),
    Column("prediction_count", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("models", JSON, nullable=False),  # [{"model": …, "version": …}], sorted
    Column("columns", JSON, nullable=False),  # the segment's column names, in order
    Column("writer", String(250), nullable=False),  # host:pid:nonce of the writing process
    Column("created_at", BigInteger, nullable=False),
    Index(None, "deployment", "start_ms"),
    Index(None, "deployment", "end_ms"),
)


# -- serving: deployments, their revisions, the versions they served (0009) ---------------

# A deployment as it is now; ``revision`` grows by one with every change.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("model", String(250), nullable=False),
    Column("policy", JSON, nullable=False),  # TrafficPolicy.to_dict()
    Column("payload_log", JSON, nullable=False),  # PayloadLogSettings.to_dict()
    Column("resources", JSON, nullable=False),  # Resources.to_dict()
    Column("description", Text, nullable=True),
    Column("revision", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(250), nullable=True),
    Index(None, "model"),
)

# Every revision of every deployment as stored (deletion included), never updated: a
# deployment created again after a delete goes on numbering from its last revision.
deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("action", String(16), nullable=False),  # created, updated, traffic, deleted
    Column("model", String(250), nullable=False),
    Column("policy", JSON, nullable=False),
    Column("payload_log", JSON, nullable=False),
    Column("resources", JSON, nullable=False),
    Column("description", Text, nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("reason", Text, nullable=True),
)

# Which version each target of a deployment served, from when until when (NULL: still).
deployment_served = Table(
    "deployment_served",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("deployment", String(250), nullable=False),
    Column("target", String(250), nullable=False),  # "@production", "v3"
    Column("model", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Index(None, "deployment", "target", "ended_at"),
)


# -- monitoring: delayed labels (0010) ------------------------------------------------------

# One label per (deployment, request id): a second label for the same request replaces the
# first (last write wins); ``first_ms`` is when the first arrived, ``writes`` how many did.
feedback = Table(
    "feedback",
    metadata,
    Column("deployment", String(250), primary_key=True),
    Column("request_id", String(200), primary_key=True),
    Column("label", JSON, nullable=False),  # a number, string, bool, list or object
    Column("time_ms", BigInteger, nullable=False),  # when the (current) label was logged
    Column("first_ms", BigInteger, nullable=False),
    Column("writes", Integer, nullable=False),
    Index(None, "deployment", "time_ms"),
)


# -- monitoring: monitors, their windows, alerts and events (0011) -----------------------

# A monitor watches a deployment's payload log (or a table stream) against a reference
# whose sketch is stored once as a blob (``reference_digest``; an artifact_files row of
# owner "monitor_reference", which gc keeps).
monitors = Table(
    "monitors",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("deployment", String(250), nullable=True),  # NULL: a table stream
    Column("source", Text, nullable=True),  # the stream's URI when there is no deployment
    Column("reference", Text, nullable=False),  # datasets:/name/3 (or a file) it was built from
    Column("reference_digest", String(64), nullable=False),  # the stored sketch
    Column("model", String(250), nullable=True),  # the version whose training data it is
    Column("version", Integer, nullable=True),
    Column("config", JSON, nullable=False),  # MonitorConfig.to_dict(): window, methods, rules
    Column("revision", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "deployment"),
)

# One computed window: what drifted, data quality, service health, realized performance,
# and each alert rule's verdict on it. Windows of a monitor never overlap.
monitor_windows = Table(
    "monitor_windows",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("monitor", String(250), nullable=False),
    Column("start_ms", BigInteger, nullable=False),  # inclusive
    Column("end_ms", BigInteger, nullable=False),  # exclusive
    Column("rows", BigInteger, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("versions", JSON, nullable=False),  # [{"model", "version", "rows"}]
    Column("drift_share", Float, nullable=True),
    Column("dataset_drifted", Boolean, nullable=False),
    Column("results", JSON, nullable=False),  # drift, prediction drift, quality, health, …
    Column("created_at", BigInteger, nullable=False),
    Index(None, "monitor", "end_ms"),
    # Two runners racing on one window: the second insert fails and it skips the window.
    UniqueConstraint("monitor", "start_ms"),
)

# An alert: a rule that held for its for-duration; resolved after its clear-duration.
monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("monitor", String(250), nullable=False),
    Column("rule", String(250), nullable=False),
    Column("state", String(16), nullable=False),  # firing | resolved
    Column("severity", String(16), nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_window", BigInteger, nullable=False),
    Column("last_window", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("evidence", JSON, nullable=False),
    Column("acked_at", BigInteger, nullable=True),
    Column("acked_by", String(250), nullable=True),
    Column("ack_reason", Text, nullable=True),
    Index(None, "monitor", "state"),
)

# Monitoring's events (alerts firing, resolving, acknowledged), read by cursor by the
# webhook dispatcher and the automation controller.
monitor_events = Table(
    "monitor_events",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("monitor", String(250), nullable=False),
    Column("actor", String(250), nullable=False),
    Column("payload", JSON, nullable=False),
    Index(None, "monitor", "id"),
)

# Webhooks on monitoring's events (``model``: the monitor a subscription narrows to).
monitor_webhooks = _webhooks_table("monitor_webhooks")


# -- automation: policies, rollout plans, trigger requests, cursors, the lease (0012) ----

# What the automation controller may do for one model on its own: which pipeline retrains
# it, on which triggers, how its canary runs and is judged, how often it may retrain.
automation_policies = Table(
    "automation_policies",
    metadata,
    Column("model", String(250), primary_key=True),
    Column("pipeline", String(250), nullable=False),  # a registered pipeline's name
    Column("deployment", String(250), nullable=True),  # where canaries run (NULL: none)
    Column("policy", JSON, nullable=False),  # AutomationPolicy.to_dict()
    Column("revision", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(250), nullable=True),
    Index(None, "pipeline"),
    Index(None, "deployment"),
)

# A rollout plan: one trigger's work, step by step (train -> evaluate -> approve -> canary
# -> watch -> promote or roll back). ``key`` names the trigger; its uniqueness is what
# makes each trigger start at most one plan, even when two agents race.
automation_plans = Table(
    "automation_plans",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("key", String(250), nullable=False, unique=True),
    Column("pipeline", String(250), nullable=False),
    Column("model", String(250), nullable=True),
    Column("trigger", JSON, nullable=False),  # {"kind": ..., what fired it}
    Column("state", String(16), nullable=False),  # running | waiting | ended states
    Column("step", String(16), nullable=False),
    Column("version", Integer, nullable=True),  # the model version it trained
    Column("pipeline_run_id", ID, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("details", JSON, nullable=False),  # the step log, the canary, the figures
    Column("reason", Text, nullable=True),  # why it waits, or why it ended so
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Index(None, "state"),
    Index(None, "model", "created_at"),
)

# ``loopml trigger NAME`` and webhook calls, waiting for the agent (each starts one plan).
automation_requests = Table(
    "automation_requests",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("pipeline", String(250), nullable=False),
    Column("source", String(16), nullable=False),  # manual | webhook
    Column("actor", String(250), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("plan_id", BigInteger, nullable=True),  # set once a plan handles it
    Index(None, "plan_id"),
)

# How far the agent has read each source of triggers (events by id, cron by time, ...).
automation_cursors = Table(
    "automation_cursors",
    metadata,
    Column("source", String(250), primary_key=True),
    Column("position", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# The lease: at most one agent acts at a time; a lease that is not renewed expires.
automation_lease = Table(
    "automation_lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(250), nullable=False),
    Column("token", String(32), nullable=False),
    Column("acquired_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)


# -- the server: users, API tokens, access grants, idempotent requests (0013) ----------

# Who may use a loopml server. Tokens and grants name a user; a disabled user's tokens
# stop working at once.
users = Table(
    "users",
    metadata,
    Column("name", String(250), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
)

# API tokens: only the SHA-256 of the secret is kept; ``id`` is the token's public part
# (``lml_<id>_<secret>``), so a lookup reads one row.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(250), nullable=False),
    Column("name", String(250), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Index(None, "user"),
)

# A user's role (viewer < editor < approver < admin) on the workspace ("*") or on one
# model ("model:NAME").
access_grants = Table(
    "access_grants",
    metadata,
    Column("user", String(250), primary_key=True),
    Column("scope", String(260), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("granted_by", String(250), nullable=True),
)

# Requests sent with an idempotency key: a retried request gets the stored answer back
# instead of being applied twice.
request_keys = Table(
    "request_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("user", String(250), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Index(None, "at"),
)
