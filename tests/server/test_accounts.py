"""Users, tokens and grants: hashed at rest, shown once, revocable, expiring; on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loopml.clock import use_clock
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from loopml.server import AccountService
from loopml.store import open_store
from loopml.store.audit import history
from loopml.store.schema import api_tokens
from loopml.testing import FakeClock


@pytest.fixture
def accounts(settings: Settings) -> AccountService:
    return AccountService(open_store(settings.db_url))


def test_a_token_authenticates_its_user_with_their_roles(accounts: AccountService) -> None:
    accounts.create_user("ana", role="editor")
    accounts.grant("ana", "approver", "model:churn")
    record, secret = accounts.create_token("ana", "laptop")
    caller = accounts.authenticate(secret)
    assert caller.user == "ana"
    assert caller.token_id == record.id
    assert caller.allows("editor")
    assert not caller.allows("approver")
    assert caller.allows("approver", "model:churn")
    assert not caller.allows("approver", "model:fraud")


def test_only_a_digest_of_the_secret_is_stored(accounts: AccountService) -> None:
    accounts.create_user("ana", role="viewer")
    record, secret = accounts.create_token("ana")
    with accounts.store.read() as conn:
        row = conn.execute(select(api_tokens)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert secret.split("_")[-1] not in stored
    assert record.id in secret
    assert row["secret_sha256"] != secret
    assert all(secret not in str(t) for t in accounts.list_tokens())


def test_a_revoked_token_stops_working_at_once(accounts: AccountService) -> None:
    accounts.create_user("ana", role="viewer")
    record, secret = accounts.create_token("ana")
    assert accounts.authenticate(secret).user == "ana"  # now cached
    assert accounts.revoke_token(record.id).state(0) == "revoked"
    with pytest.raises(UnauthorizedError) as caught:
        accounts.authenticate(secret)
    assert secret not in str(caught.value)


def test_a_token_expires(accounts: AccountService) -> None:
    clock = FakeClock(1_800_000_000)
    with use_clock(clock):
        accounts.create_user("ana", role="viewer")
        _, secret = accounts.create_token("ana", expires_in_s=60)
        assert accounts.authenticate(secret).user == "ana"
        clock.advance(seconds=61)
        with pytest.raises(UnauthorizedError, match="expired"):
            accounts.authenticate(secret)


def test_a_disabled_user_loses_every_token(accounts: AccountService) -> None:
    accounts.create_user("ana", role="admin")
    _, one = accounts.create_token("ana")
    _, two = accounts.create_token("ana")
    accounts.authenticate(one)
    accounts.disable_user("ana")
    for secret in (one, two):
        with pytest.raises(UnauthorizedError):
            accounts.authenticate(secret)
    with pytest.raises(InvalidInputError, match="disabled"):
        accounts.create_token("ana")
    assert not accounts.has_admin()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "Bearer x",
        "lml_zz_short",
        "lml_0123456789ab_" + "A" * 43,
        "lml_" + "0" * 12 + "_" + "x" * 500,
    ],
)
def test_forged_tokens_are_refused(accounts: AccountService, token: str) -> None:
    accounts.create_user("ana", role="admin")
    with pytest.raises(UnauthorizedError):
        accounts.authenticate(token)


def test_a_tampered_secret_of_a_real_token_is_refused(accounts: AccountService) -> None:
    accounts.create_user("ana", role="admin")
    _, secret = accounts.create_token("ana")
    accounts.authenticate(secret)
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(UnauthorizedError):
        accounts.authenticate(forged)


def test_bad_names_roles_and_scopes_say_what_to_use(accounts: AccountService) -> None:
    with pytest.raises(InvalidInputError, match="user name"):
        accounts.create_user("../etc")
    with pytest.raises(InvalidInputError, match="viewer, editor, approver, admin"):
        accounts.create_user("ana", role="owner")
    accounts.create_user("ana")
    with pytest.raises(ConflictError):
        accounts.create_user("ana")
    with pytest.raises(InvalidInputError, match="model:NAME"):
        accounts.grant("ana", "viewer", "project")
    with pytest.raises(NotFoundError, match="ana"):
        accounts.get_user("anna")
    with pytest.raises(NotFoundError):
        accounts.revoke_grant("ana", "*")
    with pytest.raises(InvalidInputError, match="positive"):
        accounts.create_token("ana", expires_in_s=0)


def test_account_changes_are_audited(accounts: AccountService) -> None:
    accounts.create_user("ana", role="viewer")
    accounts.grant("ana", "editor")
    record, _ = accounts.create_token("ana")
    accounts.revoke_token(record.id)
    with accounts.store.read() as conn:
        actions = [row["action"] for row in history(conn, "user", "ana")]
    assert actions == ["user.create", "user.grant", "user.grant", "token.create", "token.revoke"]
