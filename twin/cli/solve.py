"""``twin schedule solve FILE``: solve a standard JSSP (OR-Library) or FJSP (Brandimarte .fjs) instance."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.cli import app
from twin.cli.common import console, fail, print_json
from twin.errors import TwinError

__all__ = ["solve_cmd"]

schedule_app = typer.Typer(
    help="Job-shop scheduling on standard instances (CP-SAT + LNS).", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")


@schedule_app.command("solve")
def solve_cmd(
    file: Path = typer.Argument(
        ..., help="JSSP (.txt, OR-Library, 0-based machines) or FJSP (.fjs, 1-based)."
    ),
    time_limit: float = typer.Option(10.0, "--time-limit", min=0.01, help="Seconds of solving."),
    workers: int = typer.Option(2, "--workers", min=1, help="CP-SAT worker threads."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    deterministic: bool = typer.Option(
        False, "--deterministic", help="Limits in deterministic time: same seed+workers, same schedule."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (makespan, lower_bound, status, schedule)."
    ),
) -> None:
    """Minimise the makespan; every returned schedule is checked by an independent validator."""
    from twin.schedule.jobshop import check, read_instance, solve

    try:
        problem = read_instance(file)
        sol = solve(problem, time_limit_s=time_limit, workers=workers, seed=seed, deterministic=deterministic)
        if not sol.ops:
            fail(f"{file}: no schedule found ({sol.status}) in {time_limit:g} s")
        check(problem, sol)
    except TwinError as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "instance": problem.name,
                "kind": "fjsp" if problem.machine_base == 1 else "jssp",
                "n_jobs": len(problem.jobs),
                "n_machines": problem.n_machines,
                "n_ops": problem.n_ops,
                **sol.to_json(problem.machine_base),
            }
        )
        return
    console.print(
        f"{problem.name}: {len(problem.jobs)} jobs x {problem.n_machines} machines, {problem.n_ops} ops  "
        f"makespan [bold]{sol.makespan}[/] (lower bound {sol.lower_bound}, {sol.status}) "
        f"in {sol.wall_s:.2f} s",
        highlight=False,
    )
    by_machine: dict[int, list[str]] = {}
    for s in sorted(sol.ops, key=lambda s: (s.machine, s.start)):
        by_machine.setdefault(s.machine, []).append(f"J{s.job}.{s.op}@{s.start}-{s.end}")
    for m, items in sorted(by_machine.items()):
        console.print(f"  M{m + problem.machine_base}: " + " ".join(items), highlight=False, soft_wrap=True)
