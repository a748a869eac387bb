"""Redis ACL users with least privilege, one per role of the twin, derived from the key layout.

Each process connects as the user of its role (``redis://USER:PASSWORD@HOST:PORT``), so a compromised or
buggy part can only touch what its job needs:

- ``adapter`` (``twin adapt``): reads the plant's keys; writes live hashes and the change stream.
- ``viewer`` (a read-only API or viewer, ``twin status``, ``twin kpi``): reads every key; writes nothing.
- ``replanner`` (``twin replanner``, ``replan``, ``demand set``): writes plans, demand and the audit log.
- ``api`` (``twin serve`` for scheduler and admin tokens): the replanner's writes + the write-back switch.
- ``admin`` (``twin load``: graph, migrations; ``twin demo``): every key of the plant.

Rules use Redis 7 key selectors (``%R~`` read-only). Redis 6.2 lacks them: there, give the adapter and the
viewer the ``admin`` rules' key patterns or run Redis >= 7 (``docker/compose.yaml`` uses 7.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from twin.errors import ValidationError
from twin.store.errors import translate_errors
from twin.store.keys import Keys

__all__ = ["ROLES", "acl_rules", "acl_setuser", "apply_acl", "role_summary"]

#: Commands every role needs: connection set-up, the cluster client's topology discovery, SCAN to find
#: the loaded plant. Everything else is granted per role.
_BASE = [
    "resetkeys",
    "resetchannels",
    "-@all",
    "+@connection",
    "+cluster|slots",
    "+cluster|shards",
    "+cluster|nodes",
    "+cluster|info",
    "+readonly",
    "+readwrite",
    "+asking",
    "+scan",
]
_READ = ["+@read", "-keys", "-@dangerous", "+scan"]
_WRITE = ["+@write", "+@transaction", "-@dangerous", "-flushall", "-flushdb", "-swapdb", "-rename", "+wait"]

#: role -> (what it is for, extra command rules, key rules as (``R`` read-only | ``RW``, key attribute)).
ROLES: dict[str, tuple[str, list[str], list[tuple[str, str]]]] = {
    "adapter": (
        "twin adapt: reads the plant, writes live hashes and the change stream",
        [*_READ, "+hset", "+hdel", "+xadd", "+xtrim", "+evalsha", "+eval"],
        [("R", "all_plant"), ("RW", "live_pattern"), ("RW", "changes")],
    ),
    "viewer": (
        "read-only API, viewer, status/kpi/history: reads everything, writes nothing",
        [*_READ],
        [("R", "all_plant"), ("R", "live_pattern")],
    ),
    "replanner": (
        "twin replanner / replan / demand set: writes plans, demand and the audit log",
        [*_READ, *_WRITE],
        [
            ("R", "all_plant"),
            ("R", "live_pattern"),
            ("RW", "plan_keys"),
            ("RW", "plans"),
            ("RW", "demand"),
            ("RW", "demand_events"),
            ("RW", "audit"),
        ],
    ),
    "api": (
        "twin serve: the replanner's writes plus the write-back kill switch",
        [*_READ, *_WRITE],
        [
            ("R", "all_plant"),
            ("R", "live_pattern"),
            ("RW", "plan_keys"),
            ("RW", "plans"),
            ("RW", "demand"),
            ("RW", "demand_events"),
            ("RW", "audit"),
            ("RW", "writeback"),
        ],
    ),
    "admin": (
        "twin load / demo: every key of the plant (graph, migrations, time scale; the demo's adapters)",
        [*_READ, *_WRITE, "+evalsha", "+eval"],
        [("RW", "all_plant"), ("RW", "all_lines")],
    ),
}


def _pattern(keys: Keys, attr: str) -> str:
    p = keys.plant_id
    special = {
        "all_plant": f"sdf:{{{p}}}:*",
        "all_lines": f"sdf:{{{p}:*}}:*",
        "live_pattern": keys.live_pattern(),
        "plan_keys": f"sdf:{{{p}}}:plan:*",
    }
    return special.get(attr) or str(getattr(keys, attr))


def acl_rules(plant_id: str, role: str) -> list[str]:
    """The ACL rules (``ACL SETUSER`` arguments after the user name and password) of ``role``."""
    if role not in ROLES:
        raise ValidationError(f"unknown Redis role {role!r} (use one of: {', '.join(ROLES)})")
    _what, commands, keyrules = ROLES[role]
    keys = Keys(plant_id)
    selectors = [("%R~" if mode == "R" else "~") + _pattern(keys, attr) for mode, attr in keyrules]
    return [*_BASE, *commands, *selectors]


def role_summary(role: str) -> str:
    """One line: what the role is for."""
    return ROLES[role][0]


def acl_setuser(user: str, password: str, rules: Sequence[str]) -> list[str]:
    """``ACL SETUSER`` arguments: the user reset, enabled, with one password (stored as its SHA-256)."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return [user, "reset", "on", f"#{digest}", *rules]


def apply_acl(client: Any, setuser_args: Sequence[str]) -> None:
    """Run ``ACL SETUSER`` on a server, or on every node of a cluster (ACLs are per node)."""
    with translate_errors(f"setting up Redis user {setuser_args[0]!r}"):
        if hasattr(client, "get_nodes"):
            client.execute_command("ACL", "SETUSER", *setuser_args, target_nodes=client.ALL_NODES)
        else:
            client.execute_command("ACL", "SETUSER", *setuser_args)
