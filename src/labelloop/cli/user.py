"""``labelloop user``: create users and give them project roles (there is no open sign-up)."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from labelloop.cli._common import console, open_store
from labelloop.core.accounts import Role
from labelloop.services.accounts import add_member, change_password, create_user
from labelloop.services.projects import project_summary

app = typer.Typer(help="Users and project roles.", no_args_is_help=True)


def _password(from_stdin: bool) -> tuple[str, bool]:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(15), True


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Username.")],
    admin: Annotated[bool, typer.Option("--admin", help="Instance admin (every project).")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a user; without --password-stdin a random password is generated and printed once.

    Example: ``echo 'a long passphrase' | labelloop user create alice --admin --password-stdin``
    """
    password, generated = _password(password_stdin)
    store = open_store(ctx)
    try:
        user = create_user(store, name, password, is_admin=admin)
    finally:
        store.close()
    console.print(f"created user {user.username!r}{' (admin)' if user.is_admin else ''}", markup=False)
    if generated:
        console.print(f"password: {password}", markup=False)


@app.command("passwd")
def passwd_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Username.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the new password from stdin.")] = False,
) -> None:
    """Set a new password; every session and API token of the user is revoked.

    Example: ``labelloop user passwd alice``
    """
    from labelloop.services.accounts import user_id_by_name

    password, generated = _password(password_stdin)
    store = open_store(ctx)
    try:
        change_password(store, user_id_by_name(store, name), password)
    finally:
        store.close()
    console.print(f"password of {name!r} changed; sessions and tokens revoked", markup=False)
    if generated:
        console.print(f"password: {password}", markup=False)


@app.command("grant")
def grant_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Username.")],
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    role: Annotated[Role, typer.Argument(help="manager, reviewer, annotator or viewer.")],
    quota: Annotated[int | None, typer.Option("--quota", help="Most annotations this user may submit.")] = None,
) -> None:
    """Give a user a role in a project.

    Example: ``labelloop user grant alice text-demo annotator``
    """
    store = open_store(ctx)
    try:
        pid = int(project_summary(store, int(project) if project.isdigit() else project)["id"])
        m = add_member(store, pid, name, role, quota)
    finally:
        store.close()
    console.print(f"{m.username} is {m.role.value} of {project}", markup=False)
