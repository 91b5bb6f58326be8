"""Registered pipelines: storage on SQLite and PostgreSQL, validation, fire times, triggers."""

from __future__ import annotations

import itertools
import json
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from _scheduled_pipeline import make_local_pipeline, nightly
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines.schedules import (
    Registration,
    get_registration,
    list_registrations,
    next_fire_times,
    register_pipeline,
    set_enabled,
    unregister,
)
from loopml.pipelines.triggers import (
    DatasetTrigger,
    GitTrigger,
    WebhookTrigger,
    hash_token,
    on_dataset,
    on_git_change,
    on_webhook,
    trigger_from_dict,
)
from loopml.store import audit, open_store
from loopml.store.schema import audit_log, registered_pipelines
from loopml.testing import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")
TARGET = "_scheduled_pipeline:nightly"


def _history(settings: Settings, name: str) -> list[dict[str, object]]:
    with open_store(settings.db_url).read() as conn:
        return audit.history(conn, "pipeline", name)


def _stored_text(settings: Settings) -> str:
    """Every registration row and audit row, as one string to search."""
    with open_store(settings.db_url).read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(registered_pipelines))]
        rows += [dict(r._mapping) for r in conn.execute(select(audit_log))]
    return json.dumps(rows, default=str)


# -- storage, over SQLite and PostgreSQL ----------------------------------------------


def test_register_stores_what_get_and_list_read(settings: Settings) -> None:
    registration = register_pipeline(
        TARGET,
        name="nightly-train",
        schedule=" 0  3 * * * ",
        timezone="Europe/Berlin",
        triggers=[on_dataset("churn"), on_webhook()],
        params={"n": 4},
        executor="process://2",
        settings=settings,
    )
    assert registration.version == 1
    assert registration.changed == ("created",)
    assert registration.entrypoint == TARGET
    assert registration.schedule == "0 3 * * *"
    assert registration.params == {"n": 4}
    assert registration.executor == "process://2"
    assert registration.enabled
    assert len(registration.source_digest or "") == 64
    assert registration.triggers[0] == DatasetTrigger("churn", None)
    assert any("'churn' has no versions yet" in w for w in registration.warnings)
    stored = get_registration("nightly-train", settings=settings)
    assert stored == registration  # the token, warnings and changes are not part of equality
    assert stored.webhook_token is None
    assert list_registrations(settings=settings) == [stored]


def test_reregistering_bumps_the_version_and_writes_audit_rows(settings: Settings) -> None:
    first = register_pipeline(TARGET, schedule="0 3 * * *", settings=settings)
    same = register_pipeline(TARGET, schedule="0 3 * * *", settings=settings)
    assert (same.version, same.changed) == (1, ())
    moved = register_pipeline(TARGET, schedule="0 4 * * *", params={"n": 9}, settings=settings)
    assert (moved.version, moved.changed) == (2, ("params", "schedule"))
    assert moved.created_at == first.created_at <= moved.updated_at
    assert set_enabled("nightly", False, reason="maintenance", settings=settings).version == 3
    assert set_enabled("nightly", False, settings=settings).version == 3  # no change
    assert not get_registration("nightly", settings=settings).enabled
    removed = unregister("nightly", reason="replaced", settings=settings)
    assert removed.version == 3
    assert list_registrations(settings=settings) == []
    rows = _history(settings, "nightly")
    assert [r["action"] for r in rows] == [
        "pipeline.register",
        "pipeline.register",
        "pipeline.disable",
        "pipeline.unregister",
    ]
    assert rows[1]["details"]["changed"] == ["params", "schedule"]  # type: ignore[index]
    assert rows[1]["details"]["version"] == 2  # type: ignore[index]
    assert [r["reason"] for r in rows[2:]] == ["maintenance", "replaced"]


def test_the_webhook_token_is_returned_once_and_stored_hashed(settings: Settings) -> None:
    registration = register_pipeline(TARGET, triggers=[on_webhook()], settings=settings)
    token = registration.webhook_token
    assert token is not None
    assert len(token) >= 40
    (webhook,) = get_registration("nightly", settings=settings).triggers
    assert isinstance(webhook, WebhookTrigger)
    assert webhook.token_sha256 == hash_token(token)
    assert webhook.accepts(token)
    assert not webhook.accepts(token + "x")
    assert token not in _stored_text(settings)
    assert token not in repr(registration)
    again = register_pipeline(TARGET, triggers=[on_webhook()], schedule="@daily", settings=settings)
    assert again.webhook_token is None  # the token is kept: callers keep working
    assert again.triggers == (webhook,)
    rotated = register_pipeline(
        TARGET, triggers=[on_webhook(new_token=True)], schedule="@daily", settings=settings
    )
    assert rotated.webhook_token not in (None, token)
    (new_webhook,) = rotated.triggers
    assert isinstance(new_webhook, WebhookTrigger)
    assert new_webhook.accepts(rotated.webhook_token or "")
    assert not new_webhook.accepts(token)


def test_a_dataset_trigger_records_the_latest_version(settings: Settings) -> None:
    client = DatasetClient(settings)
    client.log("churn", pd.DataFrame({"x": [1, 2]}))
    client.log("churn", pd.DataFrame({"x": [1, 2, 3]}))
    registration = register_pipeline(
        TARGET, triggers=[on_dataset("datasets:/churn@latest")], settings=settings
    )
    assert registration.triggers == (DatasetTrigger("churn", 2),)
    assert registration.warnings == ()


def test_unknown_names_suggest_close_ones(settings: Settings) -> None:
    register_pipeline(TARGET, schedule="@hourly", settings=settings)
    for call in (
        lambda: get_registration("nightlyy", settings=settings),
        lambda: unregister("nightlyy", settings=settings),
        lambda: set_enabled("nightlyy", True, settings=settings),
    ):
        with pytest.raises(NotFoundError, match="did you mean: nightly\\?") as caught:
            call()
        assert "loopml pipeline schedules" in str(caught.value)


def test_registrations_list_by_name(sqlite_settings: Settings) -> None:
    for name in ("b", "c", "a"):
        register_pipeline(TARGET, name=name, schedule="@daily", settings=sqlite_settings)
    assert [r.name for r in list_registrations(settings=sqlite_settings)] == ["a", "b", "c"]


# -- what registering refuses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("61 * * * *", "the minute field '61' takes 0-59"),
        ("0 25 * * *", "the hour field '25' takes 0-23"),
        ("0 0 1-40 * *", "the day-of-month field '1-40'"),
        ("0 0 * 13 *", "the month field '13'"),
        ("0 0 * * 8", "the day-of-week field '8'"),
        ("*/0 * * * *", "step '0'"),
        ("* * *", "it has 3 fields, not 5"),
        ("0 0 * * * *", "minute precision"),
        ("", "it has 0 fields"),
        ("0 0 30 2 *", "never fires"),
        ("@reboot", "unknown shortcut"),
        ("H 3 * * *", "hashed (H) and random (R)"),
    ],
)
def test_bad_cron_schedules_are_refused_with_the_reason(
    sqlite_settings: Settings, schedule: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        register_pipeline(TARGET, schedule=schedule, settings=sqlite_settings)
    message = str(caught.value)
    assert reason in message
    assert "e.g. '0 3 * * *'" in message
    assert list_registrations(settings=sqlite_settings) == []


def test_unknown_time_zones_suggest_close_ones(sqlite_settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="did you mean: Europe/Berlin"):
        register_pipeline(TARGET, schedule="@daily", timezone="Berlin", settings=sqlite_settings)
    with pytest.raises(InvalidInputError, match="did you mean: UTC"):
        register_pipeline(TARGET, schedule="@daily", timezone="utc", settings=sqlite_settings)


def test_a_registration_needs_a_schedule_or_a_trigger(sqlite_settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="never fires"):
        register_pipeline(TARGET, settings=sqlite_settings)


def test_pipeline_objects_need_an_entrypoint(sqlite_settings: Settings) -> None:
    registration = register_pipeline(nightly, schedule="@daily", settings=sqlite_settings)
    assert registration.entrypoint == TARGET
    with pytest.raises(InvalidInputError, match="inside a function"):
        register_pipeline(make_local_pipeline(), schedule="@daily", settings=sqlite_settings)
    with pytest.raises(InvalidInputError, match="got 42"):
        register_pipeline(42, schedule="@daily", settings=sqlite_settings)


def test_the_pipeline_must_import_and_trace_with_the_params(sqlite_settings: Settings) -> None:
    target = "_scheduled_pipeline:needs_positive"
    with pytest.raises(InvalidInputError, match="its parameters are: n"):
        register_pipeline(target, schedule="@daily", settings=sqlite_settings)
    with pytest.raises(InvalidInputError, match="ValueError: n must be positive"):
        register_pipeline(target, schedule="@daily", params={"n": 0}, settings=sqlite_settings)
    assert register_pipeline(target, schedule="@daily", params={"n": 1}, settings=sqlite_settings)
    with pytest.raises(NotFoundError, match="did you mean: _scheduled_pipeline:nightly"):
        register_pipeline(
            "_scheduled_pipeline:nightlx", schedule="@daily", settings=sqlite_settings
        )


def test_params_must_be_json_and_executors_known(sqlite_settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="params n are not JSON"):
        register_pipeline(TARGET, schedule="@daily", params={"n": {3}}, settings=sqlite_settings)
    with pytest.raises(InvalidInputError, match="unknown executor 'spark://x'"):
        register_pipeline(TARGET, schedule="@daily", executor="spark://x", settings=sqlite_settings)


def test_trigger_specs_are_checked(sqlite_settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="invalid dataset name"):
        on_dataset("-bad name")
    with pytest.raises(InvalidInputError, match="names version 3"):
        on_dataset("datasets:/churn/3")
    with pytest.raises(InvalidInputError, match="is not a trigger"):
        register_pipeline(TARGET, triggers=["churn"], settings=sqlite_settings)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="at most one git trigger"):
        register_pipeline(
            TARGET, triggers=[on_git_change(["a"]), on_git_change("b")], settings=sqlite_settings
        )
    twice = register_pipeline(
        TARGET,
        triggers=[on_dataset("churn"), on_webhook(), on_dataset("churn"), on_webhook()],
        settings=sqlite_settings,
    )
    assert [t.kind for t in twice.triggers] == ["dataset", "webhook"]


def test_file_targets_are_stored_with_an_absolute_path(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "train.py").write_text(PIPELINE_FILE)
    monkeypatch.chdir(tmp_path)
    registration = register_pipeline(
        "flows/train.py:train", schedule="@daily", settings=sqlite_settings
    )
    assert registration.entrypoint == f"{folder / 'train.py'}:train"


def test_triggers_round_trip_through_json() -> None:
    triggers = [
        DatasetTrigger("churn", 3),
        WebhookTrigger(hash_token("t")),
        GitTrigger(("a.py",), "/repo", "main", "c0ffee", {"a.py": "b10b"}),
    ]
    for trigger in triggers:
        assert trigger_from_dict(json.loads(json.dumps(trigger.to_dict()))) == trigger
    with pytest.raises(InvalidInputError, match="unknown trigger kind 'cron'"):
        trigger_from_dict({"kind": "cron"})


# -- next fire times ----------------------------------------------------------------------


def test_fire_times_are_dst_correct_across_the_march_switch_in_berlin() -> None:
    after = datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN)
    daily = next_fire_times("30 2 * * *", 3, after=after, timezone="Europe/Berlin")
    # 02:30 does not exist on 31 March: it fires once, when clocks jump to 03:00.
    assert [t.isoformat() for t in daily] == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00",
    ]
    hourly = next_fire_times(
        "0 * * * *", 4, after=datetime(2024, 3, 31, 0, 30), timezone="Europe/Berlin"
    )
    assert [t.strftime("%H:%M%z") for t in hourly] == [
        "01:00+0100",
        "03:00+0200",
        "04:00+0200",
        "05:00+0200",
    ]
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in itertools.pairwise(hourly)}
    assert gaps == {timedelta(hours=1)}  # every real hour, none twice
    assert all(t.tzinfo == BERLIN for t in daily + hourly)


def test_a_repeated_hour_fires_fixed_times_once_and_wildcards_every_hour() -> None:
    after = datetime(2024, 10, 26, 23, 0, tzinfo=BERLIN)
    daily = next_fire_times("30 2 * * *", 2, after=after, timezone="Europe/Berlin")
    assert [t.isoformat() for t in daily] == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]
    hourly = next_fire_times("0 * * * *", 5, after=after, timezone="Europe/Berlin")
    assert [t.isoformat() for t in hourly] == [
        "2024-10-27T00:00:00+02:00",
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00",
    ]


def test_registration_fire_times_are_in_its_zone(sqlite_settings: Settings) -> None:
    registration = register_pipeline(
        TARGET, schedule="0 3 * * MON", timezone="America/New_York", settings=sqlite_settings
    )
    after = datetime(2024, 3, 8, 12, 0, tzinfo=UTC)  # a Friday; US clocks move on Sunday the 10th
    fires = registration.next_fire_times(2, after=after)
    assert [t.isoformat() for t in fires] == [
        "2024-03-11T03:00:00-04:00",
        "2024-03-18T03:00:00-04:00",
    ]
    assert next_fire_times(registration, 2, after=after) == fires
    naive = next_fire_times(registration, 1, after=datetime(2024, 3, 11, 3, 0))
    assert naive[0].isoformat() == "2024-03-18T03:00:00-04:00"  # read in the zone; strictly after
    assert all(t > datetime.now(UTC) for t in registration.next_fire_times(3))
    webhook_only = register_pipeline(
        TARGET, name="hook", triggers=[on_webhook()], settings=sqlite_settings
    )
    assert webhook_only.next_fire_times() == []


def test_next_fire_times_count_from_loopmls_clock(sqlite_settings: Settings) -> None:
    registration = register_pipeline(
        TARGET, schedule="0 3 * * MON", timezone="America/New_York", settings=sqlite_settings
    )
    fake = FakeClock(datetime(2024, 3, 8, 12, 0, tzinfo=UTC))  # a Friday
    with fake.installed():
        assert [t.isoformat() for t in registration.next_fire_times(2)] == [
            "2024-03-11T03:00:00-04:00",
            "2024-03-18T03:00:00-04:00",
        ]
        fake.advance(days=3, hours=11)  # Monday 2024-03-11 07:00 UTC = 03:00 in New York
        assert registration.next_fire_times(1)[0].isoformat() == "2024-03-18T03:00:00-04:00"


_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"]


def _switches(zone: str, year: int = 2024) -> list[datetime]:
    """The instants (UTC) where ``zone`` moves its clocks in ``year``."""
    tz, found = ZoneInfo(zone), []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        later = moment + timedelta(minutes=15)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            found.append(later)
        moment = later
    return found


_NEAR_SWITCHES = [(zone, at) for zone in _ZONES[1:] for at in _switches(zone)]


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        number.map(str),
        st.tuples(number, number).map(lambda p: f"{min(p)}-{max(p)}"),
        st.integers(1, high - low + 1).map(lambda k: f"*/{k}"),
        st.lists(number, min_size=1, max_size=4, unique=True).map(
            lambda v: ",".join(map(str, sorted(v)))
        ),
    )


cron_expressions = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 6)
).map(" ".join)
# Expressions that fire within hours, to compare with a minute-by-minute reference.
frequent_expressions = (
    st.tuples(_field(0, 59), _field(0, 23)).map(" ".join).map(lambda head: head + " * * *")
)


@given(
    expression=cron_expressions,
    zone=st.sampled_from(_ZONES),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
)
def test_valid_cron_expressions_fire_at_strictly_increasing_times(
    expression: str, zone: str, after: datetime
) -> None:
    try:
        next_fire_times(expression, 0, timezone=zone)
    except InvalidInputError:
        assume(False)
    start = after.replace(tzinfo=UTC)
    fires = next_fire_times(expression, 6, after=start, timezone=zone)
    assert len(fires) == 6
    instants = [start] + [t.astimezone(UTC) for t in fires]
    assert all(a < b for a, b in itertools.pairwise(instants))
    assert all(t.tzinfo == ZoneInfo(zone) for t in fires)


def _reference(expression: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Fire times by walking every minute (the rules in loopml.pipelines._cron)."""
    from croniter import croniter

    tz = ZoneInfo(zone)
    minute, hour = expression.split()[:2]
    wildcard = minute.startswith("*") or hour.startswith("*")
    fires, skipped_match = [], False
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= end:
        wall = moment.astimezone(tz)
        before = (moment - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        gap = before + timedelta(minutes=1)
        while not wildcard and gap < wall.replace(tzinfo=None):  # wall times skipped
            skipped_match = skipped_match or croniter.match(expression, gap)
            gap += timedelta(minutes=1)
        repeated = wall.fold == 1 and wall.replace(fold=0).utcoffset() != wall.utcoffset()
        matches = croniter.match(expression, wall.replace(tzinfo=None))
        if (matches and (wildcard or not repeated)) or skipped_match:
            fires.append(moment)
            skipped_match = False
        moment += timedelta(minutes=1)
    return fires


@settings(max_examples=40)
@given(
    expression=frequent_expressions,
    near=st.sampled_from(_NEAR_SWITCHES),
    offset=st.integers(-4 * 3600, 2 * 3600),
)
def test_fire_times_near_dst_switches_match_a_minute_by_minute_reference(
    expression: str, near: tuple[str, datetime], offset: int
) -> None:
    zone, switch = near
    start = switch + timedelta(seconds=offset)
    end = switch + timedelta(hours=4)
    expected = _reference(expression, zone, start, end)
    fires = next_fire_times(expression, len(expected) + 1, after=start, timezone=zone)
    assert [t.astimezone(UTC) for t in fires if t <= end] == expected


# -- git triggers ---------------------------------------------------------------------------

PIPELINE_FILE = textwrap.dedent(
    """
    import loopml


    @loopml.step
    def count(n: int) -> int:
        return n + 1


    @loopml.pipeline
    def train(n: int = 1) -> None:
        count(n)
    """
)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a committed pipeline in flows/train.py."""
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text(PIPELINE_FILE)
    (root / "README.md").write_text("a project\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root.resolve()


def test_a_git_trigger_records_the_source_files_and_their_ids(
    sqlite_settings: Settings, repo: Path
) -> None:
    target = f"{repo}/flows/train.py:train"
    registration = register_pipeline(target, triggers=[on_git_change()], settings=sqlite_settings)
    (trigger,) = registration.triggers
    assert isinstance(trigger, GitTrigger)
    assert trigger.paths == ("flows/train.py",)
    assert trigger.repository == str(repo)
    assert trigger.ref == "main"
    assert trigger.commit == _git(repo, "rev-parse", "HEAD")
    assert trigger.object_ids == {"flows/train.py": _git(repo, "rev-parse", "HEAD:flows/train.py")}
    assert get_registration("train", settings=sqlite_settings).triggers == (trigger,)
    again = register_pipeline(target, triggers=registration.triggers, settings=sqlite_settings)
    assert (again.triggers, again.version) == ((trigger,), 1)  # stored paths stay repo-relative
    assert trigger.changed_paths() == []
    (repo / "README.md").write_text("unrelated\n")
    _git(repo, "commit", "-q", "-am", "docs")
    assert trigger.changed_paths() == []
    (repo / "flows" / "train.py").write_text(PIPELINE_FILE + "\n# tuned\n")
    _git(repo, "commit", "-q", "-am", "tune")
    assert trigger.changed_paths() == ["flows/train.py"]


def test_a_git_trigger_watches_given_paths_and_warns_about_uncommitted_changes(
    sqlite_settings: Settings, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "flows")
    (repo / "flows" / "train.py").write_text(PIPELINE_FILE + "\n# not committed\n")
    registration = register_pipeline(
        "train.py:train", triggers=[on_git_change([".", "../README.md"])], settings=sqlite_settings
    )
    (trigger,) = registration.triggers
    assert isinstance(trigger, GitTrigger)
    assert trigger.paths == ("flows", "README.md")
    assert trigger.object_ids["flows"] == _git(repo, "rev-parse", "HEAD:flows")
    assert any("uncommitted changes in flows/train.py" in w for w in registration.warnings)


def test_a_git_trigger_needs_a_repository_and_committed_paths(
    sqlite_settings: Settings, tmp_path: Path, repo: Path
) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "flow.py").write_text(PIPELINE_FILE)
    with pytest.raises(InvalidInputError, match="not in a git repository"):
        register_pipeline(
            f"{outside}/flow.py:train", triggers=[on_git_change()], settings=sqlite_settings
        )
    (repo / "new.py").write_text("x = 1\n")
    with pytest.raises(InvalidInputError, match=r"new\.py is not committed at HEAD"):
        register_pipeline(
            f"{repo}/flows/train.py:train",
            triggers=[on_git_change([repo / "new.py"])],
            settings=sqlite_settings,
        )
    with pytest.raises(InvalidInputError, match="does not exist"):
        register_pipeline(
            f"{repo}/flows/train.py:train",
            triggers=[on_git_change([repo / "missing"])],
            settings=sqlite_settings,
        )
    assert list_registrations(settings=sqlite_settings) == []


def test_registration_is_a_value(sqlite_settings: Settings) -> None:
    registration = register_pipeline(TARGET, schedule="@daily", settings=sqlite_settings)
    assert isinstance(registration, Registration)
    data = registration.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["schedule"] == "@daily"
    assert data["timezone"] == "UTC"
    assert hash(registration) == hash(get_registration("nightly", settings=sqlite_settings))
