"""``twin schedule solve``: JSON keys, machine numbering as in the file, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.jobshop import SHARED_DIR
from twin.cli import app
from twin.schedule.jobshop import ScheduledOp, read_instance, violations

SHARED = SHARED_DIR

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()


def _solve_json(file: Path, *extra: str) -> dict[str, object]:
    result = runner.invoke(app, ["schedule", "solve", str(file), "--json", *extra])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _check_schedule(file: Path, data: dict[str, object], base: int) -> None:
    problem = read_instance(file)
    sched = data["schedule"]
    assert isinstance(sched, list) and len(sched) == problem.n_ops
    assert set(sched[0]) == {"job", "op", "machine", "start", "end"}
    ops = [ScheduledOp(e["job"], e["op"], e["machine"] - base, e["start"], e["end"]) for e in sched]
    assert violations(problem, ops, makespan=int(str(data["makespan"]))) == []


def test_jssp_json_has_the_contract_keys_and_zero_based_machines() -> None:
    f = SHARED / "ft06.txt"
    data = _solve_json(f, "--time-limit", "10", "--workers", "2", "--seed", "1")
    for key in ("makespan", "lower_bound", "status", "wall_s", "schedule"):
        assert key in data
    assert data["makespan"] == 55 and data["status"] == "OPTIMAL" and data["lower_bound"] == 55
    machines = {e["machine"] for e in data["schedule"]}  # type: ignore[attr-defined]
    assert machines == set(range(6))  # as in the file: 0..5
    assert {(e["job"], e["op"]) for e in data["schedule"]} == {(j, o) for j in range(6) for o in range(6)}  # type: ignore[attr-defined]
    _check_schedule(f, data, 0)


def test_fjsp_json_uses_one_based_machines() -> None:
    f = SHARED / "mk01.fjs"
    data = _solve_json(f, "--time-limit", "1", "--deterministic")
    machines = {e["machine"] for e in data["schedule"]}  # type: ignore[attr-defined]
    assert min(machines) >= 1 and max(machines) <= 6  # as in the file: 1..6
    assert int(str(data["makespan"])) >= 40
    _check_schedule(f, data, 1)


def test_human_output_names_makespan() -> None:
    result = runner.invoke(app, ["schedule", "solve", str(SHARED / "la01.txt"), "--time-limit", "5"])
    assert result.exit_code == 0, result.output
    assert "makespan" in result.stdout and "M0:" in result.stdout


def test_malformed_file_is_one_clear_line_and_nonzero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fjs"
    bad.write_text("2 3\n1 1 1 5\n1 2 1 x\n")
    result = runner.invoke(app, ["schedule", "solve", str(bad), "--json"])
    assert result.exit_code != 0
    assert f"{bad}:3:" in result.stderr and "'x' is not an integer" in result.stderr
    assert result.stdout == ""


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schedule", "solve", str(tmp_path / "none.txt")])
    assert result.exit_code != 0 and "no such file" in result.stderr
