"""``loopml models promote|approve|reject|policy|roles``: governance of promotion.

A model's policy says what a version must show before a protected alias (production)
may point at it: gates an evaluation must pass, and optionally a human approval by
someone holding a role.

Example:
    $ loopml models policy set churn --gate "f1 >= 0.8" --gate infra --require-approval
    $ loopml models approve churn 3 --comment "reviewed the slice report"
    $ loopml models promote churn 3 --reason "beats v2 on recall"
"""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._output import JsonFlag, cell, echo_json, format_time, new_table, respond, show
from loopml.cli._registry import open_registry
from loopml.errors import GateFailedError, InvalidInputError
from loopml.uris import model_uri

__all__ = ["approve", "policy_app", "promote", "reject", "roles_app"]

Name = Annotated[str, typer.Argument(metavar="NAME", help="The registered model.")]
Version = Annotated[int, typer.Argument(metavar="VERSION", min=1, help="The version number.")]
Comment = Annotated[
    str | None,
    typer.Option("--comment", "-m", metavar="TEXT", help="What you checked; kept with it."),
]

policy_app = typer.Typer(
    help="A model's promotion policy: gates, approval, approver role, protected aliases.\n\n"
    'Example: `loopml models policy set churn --gate "f1 >= 0.8" --require-approval`',
    no_args_is_help=True,
)
roles_app = typer.Typer(
    help="Who holds which role (e.g. the approver role a policy asks for).\n\n"
    "Example: `loopml models roles grant alice ml-lead`",
    no_args_is_help=True,
)


def promote(
    ctx: typer.Context,
    name: Name,
    version: Version,
    to: Annotated[
        str, typer.Option("--to", metavar="ALIAS", help="The alias to move.")
    ] = "production",
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="Why; kept in the alias history."),
    ] = None,
    archive_previous: Annotated[
        bool,
        typer.Option("--archive-previous", help="Archive the version the alias pointed at."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Move ALIAS (production) to VERSION if the policy allows; otherwise list every reason.

    The latest evaluation of the version must have passed every gate of the policy, and
    with --require-approval in the policy someone (holding the approver role) must have
    approved it. The version becomes deployed; the previous one stays (or is archived).
    Exit code 1 when promotion is refused.

    Examples:

        loopml models promote churn 3
        loopml models promote churn 3 --to production --reason "beats v2 on recall"
        loopml models promote churn 4 --archive-previous --json
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx, writes=True) as registry:
        previous = registry.get_model(name).aliases.get(to)
        try:
            promoted = registry.promote(
                name, version, to, reason=reason, archive_previous=archive_previous
            )
        except GateFailedError as err:
            _refused(err, model_uri(name, version), to, as_json=as_json)
    if as_json:
        echo_json({**to_json(promoted), "alias": to, "previous_version": previous})
        return
    before = f" (was v{previous})" if previous is not None and previous != version else ""
    show(f"{name}@{to} -> {promoted.uri}{before}; status {promoted.status}")


def _refused(err: GateFailedError, uri: str, alias: str, *, as_json: bool) -> None:
    reasons = [str(r) for r in err.details.get("reasons", [])] or [err.message]
    if as_json:
        echo_json(err.to_dict())
    lines = [f"{typer.style('error:', fg='red', bold=True)} cannot promote {uri} to {alias}:"]
    lines += [f"  - {reason}" for reason in reasons]
    typer.echo("\n".join(lines), err=True)
    raise typer.Exit(err.exit_code)


def approve(
    ctx: typer.Context,
    name: Name,
    version: Version,
    comment: Comment = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a validated version for promotion (you are $LOOPML_USER, or your login).

    When the policy names an approver role, you must hold it (`loopml models roles`).

    Examples:

        loopml models approve churn 3 --comment "reviewed the slice report"
        LOOPML_USER=alice loopml models approve churn 3 -m "ok" --json
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx, writes=True) as registry:
        decision = registry.approve(name, version, comment=comment)
    if as_json:
        echo_json(to_json(decision))
        return
    role = f" as {decision.role}" if decision.role else ""
    show(f"approved {model_uri(name, version)} by {decision.actor}{role}")


def reject(
    ctx: typer.Context,
    name: Name,
    version: Version,
    comment: Annotated[
        str,
        typer.Option("--comment", "-m", metavar="TEXT", help="Why it is rejected (required)."),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Reject a version, saying why; it cannot be promoted until evaluated again.

    Examples:

        loopml models reject churn 3 --comment "recall on the pro plan is too low"
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx, writes=True) as registry:
        decision = registry.reject(name, version, comment=comment)
    respond(
        to_json(decision),
        f"rejected {model_uri(name, version)} by {decision.actor}: {comment}",
        as_json=as_json,
    )


@policy_app.command("show")
def show_policy(ctx: typer.Context, name: Name, as_json: JsonFlag = False) -> None:
    """Show a model's promotion policy.

    A model whose policy was never set has the default: no gates, no approval, production
    protected. --json prints {gates, require_approval, approver_role, protected_aliases}.

    Examples:

        loopml models policy show churn
        loopml models policy show churn --json
    """
    from loopml.cli._models_views import policy_table

    with open_registry(ctx) as registry:
        policy = registry.get_policy(name)
    respond(policy.to_dict(), policy_table(policy), as_json=as_json)


@policy_app.command("set")
def set_policy(
    ctx: typer.Context,
    name: Name,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            "-g",
            metavar="EXPR",
            help='A gate, e.g. "f1 >= 0.8", "auc >= champion - 0.01", '
            '"gap(recall, by=plan) <= 0.05", infra (repeatable; replaces the gates).',
        ),
    ] = None,
    no_gates: Annotated[bool, typer.Option("--no-gates", help="Remove every gate.")] = False,
    require_approval: Annotated[
        bool | None,
        typer.Option(
            "--require-approval/--no-require-approval",
            help="Whether a human approval is needed before promotion.",
            show_default=False,
        ),
    ] = None,
    approver_role: Annotated[
        str | None,
        typer.Option(
            "--approver-role", metavar="ROLE", help="The role an approver must hold ('' : anyone)."
        ),
    ] = None,
    protect: Annotated[
        list[str] | None,
        typer.Option(
            "--protect",
            metavar="ALIAS",
            help="An alias only promotion may move (repeatable; replaces the list).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a model's promotion policy; options not given keep their current value.

    Gates are checked when set (their grammar, and that some evaluation computes the
    metric they name), so a typo fails here rather than at promotion time.
    The grammar is in docs/evaluation.md: `METRIC OP NUMBER`, `METRIC OP champion +|- N`,
    `gap(METRIC, by=COLUMN) OP NUMBER`, `latency_ms_per_row <= N`, `package_size_mb <= N`,
    `infra`.

    Examples:

        loopml models policy set churn --gate "accuracy >= 0.7" --gate "roc_auc >= champion - 0.02"
        loopml models policy set churn --gate "gap(accuracy, by=plan) <= 0.15" --gate infra
        loopml models policy set churn --require-approval --approver-role ml-lead
        loopml models policy set churn --protect production --protect canary --json
    """
    from dataclasses import replace

    from loopml.cli._models_views import policy_table

    if gate and no_gates:
        raise InvalidInputError("give --gate or --no-gates, not both")
    with open_registry(ctx, writes=True) as registry:
        policy = registry.get_policy(name)
        if gate or no_gates:
            policy = replace(policy, gates=tuple(gate or ()))
        if require_approval is not None:
            policy = replace(policy, require_approval=require_approval)
        if approver_role is not None:
            policy = replace(policy, approver_role=approver_role or None)
        if protect is not None:
            policy = replace(policy, protected_aliases=tuple(protect))
        policy = registry.set_policy(name, policy)
    respond(policy.to_dict(), policy_table(policy), as_json=as_json)


@roles_app.command("grant")
def grant_role(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="Who ($LOOPML_USER of them).")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help="e.g. ml-lead.")],
    as_json: JsonFlag = False,
) -> None:
    """Give USER the role ROLE.

    Examples:

        loopml models roles grant alice ml-lead
    """
    with open_registry(ctx, writes=True) as registry:
        registry.grant_role(user, role)
    respond(
        {"user": user, "role": role, "granted": True}, f"{user} now holds {role}", as_json=as_json
    )


@roles_app.command("revoke")
def revoke_role(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="Who.")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help="The role to take back.")],
    as_json: JsonFlag = False,
) -> None:
    """Take the role ROLE from USER.

    Examples:

        loopml models roles revoke alice ml-lead
    """
    with open_registry(ctx, writes=True) as registry:
        registry.revoke_role(user, role)
    respond(
        {"user": user, "role": role, "granted": False},
        f"{user} no longer holds {role}",
        as_json=as_json,
    )


@roles_app.command("list")
def list_roles(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", "-u", metavar="USER", help="Only this user's roles.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List who holds which role.

    --user shows only that user's roles. --json prints a list of {user, role, granted_at,
    granted_by}, granted_at in Unix milliseconds.

    Examples:

        loopml models roles list
        loopml models roles list --user alice --json
    """
    from loopml.cli._models_views import to_json

    with open_registry(ctx) as registry:
        found = registry.list_roles(user)
    if as_json:
        echo_json(to_json(found))
        return
    if not found:
        show(
            cell("nobody holds a role; grant one with `loopml models roles grant USER ROLE`", "dim")
        )
        return
    table = new_table("user", "role", "granted", "by")
    for grant in found:
        table.add_row(
            cell(grant.user, "bold"),
            cell(grant.role),
            cell(format_time(grant.granted_at)),
            cell(grant.granted_by or "-"),
        )
    show(table)
