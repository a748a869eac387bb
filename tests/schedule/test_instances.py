"""Instance readers on the shared standard files, and clear errors on malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.jobshop import SHARED_DIR
from twin.schedule.jobshop import InstanceError, read_fjs, read_instance, read_jssp

SHARED = SHARED_DIR

# name: (jobs, machines as sized, ops, total eligible options)
COUNTS = {
    "ft06": (6, 6, 36, 36), "ft10": (10, 10, 100, 100), "ft20": (20, 5, 100, 100), "la01": (10, 5, 50, 50),
    "la16": (10, 10, 100, 100), "la21": (15, 10, 150, 150), "la24": (15, 10, 150, 150),
    "abz5": (10, 10, 100, 100), "orb01": (10, 10, 100, 100), "ta01": (15, 15, 225, 225),
    "mk01": (10, 6, 55, 115), "mk02": (10, 6, 58, 238), "mk03": (15, 8, 150, 451), "mk04": (15, 8, 90, 172),
    "mk05": (15, 4, 106, 181), "mk06": (10, 15, 150, 490), "mk07": (20, 5, 100, 283),
    "mk08": (20, 10, 225, 322), "mk09": (20, 10, 240, 606), "mk10": (20, 15, 240, 716),
}  # fmt: skip


def _file(name: str) -> Path:
    return SHARED / (f"{name}.fjs" if name.startswith("mk") else f"{name}.txt")


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_shared_instances_read_with_exact_counts(name: str) -> None:
    p = read_instance(_file(name))
    jobs, machines, ops, options = COUNTS[name]
    assert p.name == name
    assert (len(p.jobs), p.n_machines, p.n_ops) == (jobs, machines, ops)
    assert sum(len(op.options) for job in p.jobs for op in job) == options
    assert p.machine_base == (1 if name.startswith("mk") else 0)
    assert all(
        0 <= x.machine < p.n_machines and x.duration >= 0 for job in p.jobs for op in job for x in op.options
    )
    if not name.startswith("mk"):  # JSSP: every job visits every machine once
        assert all(sorted(op.options[0].machine for op in job) == list(range(machines)) for job in p.jobs)


def test_ft06_first_job_exact() -> None:
    p = read_jssp(_file("ft06"))
    assert [(op.options[0].machine, op.options[0].duration) for op in p.jobs[0]] == [
        (2, 1),
        (0, 3),
        (1, 6),
        (3, 7),
        (5, 3),
        (4, 6),
    ]


def test_mk01_first_op_is_zero_based_inside() -> None:
    p = read_fjs(_file("mk01"))
    # "6  2 1 5 3 4 ...": job 0 has 6 ops; op 0 on M1 (5) or M3 (4) -> machines 0 and 2 inside.
    assert len(p.jobs[0]) == 6
    assert [(x.machine, x.duration) for x in p.jobs[0][0].options] == [(0, 5), (2, 4)]


def test_mk06_uses_only_ten_machines() -> None:
    p = read_fjs(_file("mk06"))
    used = {x.machine for job in p.jobs for op in job for x in op.options}
    assert p.n_machines == 15 and used == set(range(10))


def test_fjs_header_smaller_than_used_machines_sizes_up(tmp_path: Path) -> None:
    f = tmp_path / "up.fjs"
    f.write_text("2 2 1.5\n2 1 3 4 2 1 1 2 2\n1 1 2 7\n")
    p = read_fjs(f)
    assert p.n_machines == 3
    assert [(x.machine, x.duration) for x in p.jobs[0][1].options] == [(0, 1), (1, 2)]


def test_jssp_skips_comment_lines(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text("# instance x\n# more\n2 2\n0 3 1 2\n1 4 0 1\n")
    p = read_jssp(f)
    assert p.n_ops == 4 and p.jobs[1][0].options[0].duration == 4


BAD_JSSP = [
    ("", None, "empty"),
    ("2\n0 1 1 1\n", 1, "header"),
    ("2 x\n", 1, "'x' is not an integer"),
    ("2 2\n0 3 1 2\n", 2, "expected 2 job lines"),
    ("2 2\n0 3 1 2\n1 4 0\n", 3, "job 1: expected 2 'machine time' pairs"),
    ("2 2\n0 3 1 2\n1 4 2 1\n", 3, "machine 2 outside 0..1"),
    ("2 2\n0 3 1 2\n1 4 0 -1\n", 3, "negative duration"),
    ("2 2\n0 3 1 2\n1 4 0 a\n", 3, "'a' is not an integer"),
    ("1 2\n0 3 1 2\n1 4 0 1\n", 3, "unexpected extra line"),
]


@pytest.mark.parametrize(("text", "line", "needle"), BAD_JSSP)
def test_malformed_jssp_names_file_line_and_problem(
    tmp_path: Path, text: str, line: int | None, needle: str
) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(text)
    with pytest.raises(InstanceError) as info:
        read_instance(f)
    msg = str(info.value)
    assert msg.startswith(str(f) + (f":{line}:" if line else ":")), msg
    assert needle in msg
    assert info.value.line == line


BAD_FJS = [
    ("2 2 1 7\n", 1, "header"),
    ("1 2\n2 1 1 3 1\n", 2, "line ends early"),
    ("1 2\n1 1 0 3\n", 2, "machine 0 < 1"),
    ("1 2\n1 2 1 3 1 4\n", 2, "machine 1 listed twice"),
    ("1 2\n1 1 1 3 9\n", 2, "1 unexpected numbers"),
    ("1 2\n0\n", 2, "number of operations must be positive"),
    ("2 2\n1 1 1 3\n", 2, "expected 2 job lines"),
]


@pytest.mark.parametrize(("text", "line", "needle"), BAD_FJS)
def test_malformed_fjs_names_file_line_and_problem(tmp_path: Path, text: str, line: int, needle: str) -> None:
    f = tmp_path / "bad.fjs"
    f.write_text(text)
    with pytest.raises(InstanceError) as info:
        read_instance(f)
    assert str(info.value).startswith(f"{f}:{line}:"), str(info.value)
    assert needle in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="no such file"):
        read_instance(tmp_path / "nope.fjs")
