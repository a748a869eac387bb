"""``twin redis acl``: Redis ACL users with least privilege per role, from the key layout."""

from __future__ import annotations

import secrets

import typer

from twin.cli import app
from twin.cli.common import DEFAULT_CONFIG, console, fail, settings
from twin.config import load_plant
from twin.store.acl import ROLES, acl_rules, acl_setuser, apply_acl, role_summary

__all__ = ["redis_acl", "redis_app"]

redis_app = typer.Typer(help="Redis set-up: least-privilege ACL users per role.", no_args_is_help=True)
app.add_typer(redis_app, name="redis")


@redis_app.command("acl")
def redis_acl(
    ctx: typer.Context,
    role: list[str] = typer.Option(None, "--role", help=f"Role(s): {', '.join(ROLES)} (default: all)."),
    config: str = typer.Option(str(DEFAULT_CONFIG), "--config", "-c", help="Plant file (for its id)."),
    prefix: str = typer.Option("twin-", "--user-prefix", help="Users are named PREFIX + role."),
    password: str = typer.Option(
        None, "--password", envvar="TWIN_REDIS_ACL_PASSWORD", help="Password (one role; default: random)."
    ),
    aclfile: bool = typer.Option(False, "--aclfile", help="Print aclfile lines ('user ...') instead."),
    apply: bool = typer.Option(False, "--apply", help="Create the users on --redis-url (an admin user)."),
) -> None:
    """Print (or --apply) one ACL user per role: the adapter writes only live state and the change stream,
    the viewer reads only; passwords are stored as SHA-256 hashes. ACLs are per node: --apply sets them on
    every node of a cluster."""
    roles = role or list(ROLES)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        fail(f"--role: unknown role {unknown[0]!r} (use one of: {', '.join(ROLES)})", code=2)
    if password is not None and len(roles) != 1:
        fail("--password sets one user's password: give exactly one --role", code=2)
    plant_id = settings(ctx).plant or load_plant(config).id
    url = settings(ctx).redis_url
    if apply and not url:
        fail("--apply needs the Redis to set the users on: pass --redis-url (as a user allowed ACL SETUSER)")
    client = None
    if apply:
        from twin.store import TwinStore

        client = TwinStore.from_url(str(url), plant_id).client
    for r in roles:
        pw = password or secrets.token_urlsafe(24)
        args = acl_setuser(prefix + r, pw, acl_rules(plant_id, r))
        console.print(f"# {args[0]} ({r}): {role_summary(r)}", highlight=False, soft_wrap=True)
        console.print(f"#   connect as redis://{args[0]}:{pw}@HOST:PORT/0", highlight=False, soft_wrap=True)
        line = ("user " + " ".join(args)) if aclfile else ("ACL SETUSER " + " ".join(args))
        console.print(line, highlight=False, soft_wrap=True, markup=False)
        if client is not None:
            apply_acl(client, args)
    if client is not None:
        client.close()
