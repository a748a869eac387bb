"""Tabu search on the disjunctive graph: a fast improvement heuristic that feeds CP-SAT a better start.

Nowicki-Smutnicki style: the schedule is a sequence of operations per machine (plus, on flexible shops, the
machine of each operation); its makespan is the longest path of the graph of job and machine arcs. Each
iteration recomputes heads and tails in topological order, takes one critical path, and looks at

* the N5 moves (swap the first two / last two operations of each critical block; never creates a cycle,
  and swaps inside a block cannot shorten the path), each estimated in O(1) from heads and tails;
* on flexible shops, moving a critical operation to another eligible machine, at the place its head
  says or next to it: every such move is estimated in O(1) (longest path through the moved operation),
  the best three are evaluated exactly by a full longest-path pass (which also rejects cycles).

The best non-tabu move is taken (a tabu one when it beats the best makespan: aspiration); after a long
run without improvement the search restarts from the best schedule with a few random critical swaps.
Tight pure Python over int lists (no objects per operation; speed in docs/scheduling-results.md). A pure
function of its inputs and ``seed`` when ``max_iters`` bounds it.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterable, Sequence

from twin.schedule.jobshop.instances import Problem, ScheduledOp, Solution

__all__ = ["tabu_search"]


class _Graph:
    """The fixed part of the graph: op index <-> (job, op), job arcs, release times, options."""

    def __init__(self, problem: Problem) -> None:
        self.keys: list[tuple[int, int]] = problem.op_ids()
        self.index = {k: i for i, k in enumerate(self.keys)}
        n = len(self.keys)
        self.n = n
        self.jp = [-1] * n
        self.js = [-1] * n
        self.rel = [0] * n
        self.opts: list[dict[int, int]] = []
        for i, (j, o) in enumerate(self.keys):
            op = problem.jobs[j][o]
            self.rel[i] = max(0, op.release)
            self.opts.append({x.machine: x.duration for x in op.options})
            if o > 0:
                self.jp[i] = i - 1
                self.js[i - 1] = i


def _longest_paths(
    g: _Graph, seqs: Sequence[Sequence[int]], p: Sequence[int]
) -> tuple[list[int], list[int], list[int], list[int], int, int] | None:
    """Heads ``r`` (earliest starts), tails ``q`` (longest path after the end), machine pred/succ, the
    makespan and an operation that ends at it. None when the sequences and job chains form a cycle.
    """
    n = g.n
    mp = [-1] * n
    ms = [-1] * n
    for seq in seqs:
        for a, b in itertools.pairwise(seq):
            ms[a] = b
            mp[b] = a
    jp, js = g.jp, g.js
    indeg = [(jp[i] >= 0) + (mp[i] >= 0) for i in range(n)]
    stack = [i for i in range(n) if indeg[i] == 0]
    order: list[int] = []
    push, pop, add = stack.append, stack.pop, order.append
    while stack:
        i = pop()
        add(i)
        s = js[i]
        if s >= 0:
            indeg[s] -= 1
            if not indeg[s]:
                push(s)
        s = ms[i]
        if s >= 0:
            indeg[s] -= 1
            if not indeg[s]:
                push(s)
    if len(order) < n:
        return None
    r = _relax(order, jp, mp, p, g.rel[:])  # heads: over predecessors, in topological order
    q = _relax(reversed(order), js, ms, p, [0] * n)  # tails: over successors, in reverse
    cmax = last = 0
    for i in order:  # the first operation in topological order that ends at the makespan
        if r[i] + p[i] > cmax:
            cmax, last = r[i] + p[i], i
    return r, q, mp, ms, cmax, last


def _relax(
    order: Iterable[int], job_arc: list[int], machine_arc: list[int], p: Sequence[int], val: list[int]
) -> list[int]:
    """Longest paths along ``order``: each ``val[i]`` is raised to ``val[a] + p[a]`` over its job and machine
    neighbour ``a`` (-1: none), which ``order`` visits first. Heads and tails are the same pass, mirrored."""
    for i in order:
        a = job_arc[i]
        if a >= 0 and val[a] + p[a] > val[i]:
            val[i] = val[a] + p[a]
        a = machine_arc[i]
        if a >= 0 and val[a] + p[a] > val[i]:
            val[i] = val[a] + p[a]
    return val


def _critical_path(g: _Graph, r: list[int], p: list[int], mp: list[int], last: int) -> list[int]:
    """The longest path to ``last``, first operation first (machine arcs preferred: longer blocks)."""
    i = last
    path = [i]
    while True:
        a = mp[i]
        if a >= 0 and r[a] + p[a] == r[i]:
            i = a
        else:
            a = g.jp[i]
            if a >= 0 and r[a] + p[a] == r[i]:
                i = a
            else:
                break
        path.append(i)
    path.reverse()
    return path


def _blocks(path: list[int], mp: list[int]) -> list[list[int]]:
    """Maximal runs of the path joined by machine arcs."""
    blocks: list[list[int]] = [[path[0]]]
    for a, b in itertools.pairwise(path):
        if mp[b] == a:
            blocks[-1].append(b)
        else:
            blocks.append([b])
    return blocks


def _swap_estimate(
    g: _Graph, u: int, v: int, r: list[int], q: list[int], p: list[int], mp: list[int], ms: list[int]
) -> int:
    """Longest path through u and v after swapping adjacent u -> v (Taillard's estimate; exact on N5)."""
    jp, js = g.jp, g.js
    a, b = mp[u], ms[v]
    rv = g.rel[v]
    if jp[v] >= 0:
        rv = max(rv, r[jp[v]] + p[jp[v]])
    if a >= 0:
        rv = max(rv, r[a] + p[a])
    ru = max(g.rel[u], rv + p[v])
    if jp[u] >= 0:
        ru = max(ru, r[jp[u]] + p[jp[u]])
    qu = 0
    if js[u] >= 0:
        qu = q[js[u]] + p[js[u]]
    if b >= 0:
        qu = max(qu, q[b] + p[b])
    qv = qu + p[u]
    if js[v] >= 0:
        qv = max(qv, q[js[v]] + p[js[v]])
    return max(rv + p[v] + qv, ru + p[u] + qu)


#: A chosen move: (makespan estimate, new sequences, machines, durations, swap). A swap (u, v) exchanges
#: adjacent u -> v in place (the three lists are then empty); a reassignment carries the new lists.
_Move = tuple[int, list[list[int]], list[int], list[int], tuple[int, int] | None]


def tabu_search(
    problem: Problem,
    start: Solution,
    time_limit_s: float = 1.0,
    seed: int = 0,
    max_iters: int | None = None,
    lower_bound: int = 0,
    reassign: bool | None = None,
    stall_iters: int = 2000,
) -> Solution:
    """Improve ``start`` (a complete valid schedule) by tabu search; the best schedule found.

    Stops at ``time_limit_s``, after ``max_iters`` iterations (then the result depends only on the inputs
    and ``seed``), or on reaching ``lower_bound``. ``reassign`` (default: when the shop is flexible) adds
    machine-reassignment moves. Not for problems with a power cap (the graph does not model it).
    """
    t0 = time.perf_counter()
    g = _Graph(problem)
    search = _Search(problem, g, start, seed, problem.flexible if reassign is None else reassign)
    if not search.evaluate() or g.n == 0:
        return start
    search.keep_best()
    search.run(t0, time_limit_s, max_iters, lower_bound, stall_iters)
    stats = {"tabu_iters": search.it, "tabu_restarts": search.restarts}
    best_cmax, _, best_machine, best_p = search.best
    if best_cmax > start.makespan:  # the left-shifted start can only be longer with zero-length operations
        return Solution(start.makespan, 0, "FEASIBLE", time.perf_counter() - t0, start.ops, dict(stats))
    ops = tuple(
        ScheduledOp(j, o, best_machine[i], search.best_r[i], search.best_r[i] + best_p[i])
        for i, (j, o) in enumerate(g.keys)
    )
    makespan = max((s.end for s in ops), default=0)
    return Solution(makespan, 0, "FEASIBLE", time.perf_counter() - t0, ops, dict(stats))


class _Search:
    """The search state: machine sequences, machine and duration per op, their longest paths, the best."""

    def __init__(self, problem: Problem, g: _Graph, start: Solution, seed: int, reassign: bool) -> None:
        self.g = g
        self.rng = random.Random(seed)
        self.reassign = reassign
        n = g.n
        self.machine = [0] * n
        self.p = [0] * n
        by_machine: dict[int, list[tuple[int, int, int]]] = {}
        for s in start.ops:
            i = g.index[(s.job, s.op)]
            self.machine[i] = s.machine
            self.p[i] = s.end - s.start
            by_machine.setdefault(s.machine, []).append((s.start, s.end, i))
        self.seqs = [[i for _, _, i in sorted(by_machine.get(m, []))] for m in range(problem.n_machines)]
        self.tabu: dict[tuple[int, int], int] = {}
        self.it = self.since = self.restarts = 0
        self.tenure = (8, 8 + max(2, n // max(1, problem.n_machines) // 2))
        self.r: list[int] = []
        self.q: list[int] = []
        self.mp: list[int] = []
        self.ms: list[int] = []
        self.cmax = self.last = 0
        self.best: tuple[int, list[list[int]], list[int], list[int]] = (0, [], [], [])
        self.best_r: list[int] = []

    def evaluate(self) -> bool:
        """Recompute the longest paths of the current schedule; False if it has a cycle."""
        res = _longest_paths(self.g, self.seqs, self.p)
        if res is None:
            return False
        self.r, self.q, self.mp, self.ms, self.cmax, self.last = res
        return True

    def reevaluate(self) -> None:
        """:meth:`evaluate` after a move: N5 swaps and checked reassignments keep the graph acyclic."""
        if not self.evaluate():
            raise AssertionError("tabu move made a cycle")

    def keep_best(self) -> None:
        """Remember the current schedule as the best."""
        self.best = (self.cmax, [s[:] for s in self.seqs], self.machine[:], self.p[:])
        self.best_r = self.r

    def run(
        self, t0: float, time_limit_s: float, max_iters: int | None, lower_bound: int, stall_iters: int
    ) -> None:
        """Iterate until a limit, the lower bound, or no move at all (then the makespan is optimal)."""
        g = self.g
        while self.cmax > lower_bound:
            if max_iters is not None:
                if self.it >= max_iters:
                    break
            elif not self.it & 15 and time.perf_counter() - t0 >= time_limit_s:
                break
            self.it += 1
            path = _critical_path(g, self.r, self.p, self.mp, self.last)
            blocks = _blocks(path, self.mp)
            chosen, fallback = self._best_swap(blocks)
            if self.reassign:
                chosen = self._best_reassignment(path, chosen)
            if chosen is None:
                if fallback is None:
                    if self.reassign and self.tabu:
                        self.tabu.clear()  # every reassignment on the path was tabu: forget them, do not stop
                        # As before the split: the next critical path is traced back from the op numbered
                        # len(blocks) - 1, not from the makespan op (the original reused one variable).
                        self.last = len(blocks) - 1
                        continue
                    break  # no move at all: one critical block or only job arcs, the makespan is optimal
                chosen = (fallback[0], [], [], [], (fallback[1], fallback[2]))
            self._apply(chosen)
            self.reevaluate()
            if self.cmax < self.best[0]:
                self.keep_best()
                self.since = 0
            else:
                self.since += 1
            if self.since >= stall_iters:
                self._restart()

    def _best_swap(self, blocks: list[list[int]]) -> tuple[_Move | None, tuple[int, int, int] | None]:
        """The best non-tabu N5 swap (ties broken at random), and the best tabu one as a fallback."""
        g, r, q, p, mp, ms, it, tabu, rng = (
            self.g, self.r, self.q, self.p, self.mp, self.ms, self.it, self.tabu, self.rng
        )  # fmt: skip
        best_est = self.best[0]
        moves: list[tuple[int, int]] = []  # (u, v): swap u -> v
        last = len(blocks) - 1
        for bi, blk in enumerate(blocks):
            if len(blk) < 2:
                continue
            # Two ops of one job in a row on one machine: the job arc forbids the swap.
            if bi > 0 and g.js[blk[0]] != blk[1]:
                moves.append((blk[0], blk[1]))
            if bi < last and (bi == 0 or len(blk) > 2) and g.js[blk[-2]] != blk[-1]:
                moves.append((blk[-2], blk[-1]))
        chosen: _Move | None = None
        fallback: tuple[int, int, int] | None = None
        for u, v in moves:
            est = _swap_estimate(g, u, v, r, q, p, mp, ms)
            if tabu.get((v, u), 0) > it and est >= best_est:
                if fallback is None or est < fallback[0]:
                    fallback = (est, u, v)
                continue
            if chosen is None or est < chosen[0] or (est == chosen[0] and rng.random() < 0.5):
                chosen = (est, [], [], [], (u, v))
        return chosen, fallback

    def _best_reassignment(self, path: list[int], chosen: _Move | None) -> _Move | None:
        """``chosen``, or a move of a critical op to another machine that is better.

        Each candidate place is estimated by the longest path through the op there (O(1)); the best three
        are evaluated exactly by a full longest-path pass, which also rejects cycles.
        """
        g, seqs, machine, p = self.g, self.seqs, self.machine, self.p
        cands = self._reassignment_estimates(path)
        cands.sort()
        for _, i, m2, pos in cands[:3]:
            new_seqs = [s[:] if k in (machine[i], m2) else s for k, s in enumerate(seqs)]
            new_seqs[machine[i]].remove(i)
            new_seqs[m2].insert(pos, i)
            p2 = p[:]
            p2[i] = g.opts[i][m2]
            res2 = _longest_paths(g, new_seqs, p2)
            if res2 is None:
                continue
            c2 = res2[4]
            if chosen is None or c2 < chosen[0]:
                m_new = machine[:]
                m_new[i] = m2
                chosen = (c2, new_seqs, m_new, p2, None)
        return chosen

    def _reassignment_estimates(self, path: list[int]) -> list[tuple[int, int, int, int]]:
        """(estimate, op, machine, position) of each non-tabu move of a critical op to another machine,
        after the ops there that start no later, or next to that place (cycles are caught later)."""
        g, r, q, p, machine, seqs, tabu, it = (
            self.g, self.r, self.q, self.p, self.machine, self.seqs, self.tabu, self.it
        )  # fmt: skip
        cands: list[tuple[int, int, int, int]] = []
        for i in path:
            if len(g.opts[i]) < 2:
                continue
            a = g.jp[i]
            head = max(g.rel[i], r[a] + p[a]) if a >= 0 else g.rel[i]
            b = g.js[i]
            tail = q[b] + p[b] if b >= 0 else 0
            for m2, d2 in g.opts[i].items():
                if m2 == machine[i] or tabu.get((i, -1 - m2), 0) > it:
                    continue
                tgt = seqs[m2]
                pos = 0
                while pos < len(tgt) and r[tgt[pos]] <= r[i]:
                    pos += 1
                for k in range(max(0, pos - 1), min(len(tgt), pos + 1) + 1):
                    h, t = head, tail
                    if k > 0:
                        h = max(h, r[tgt[k - 1]] + p[tgt[k - 1]])
                    if k < len(tgt):
                        t = max(t, q[tgt[k]] + p[tgt[k]])
                    cands.append((h + d2 + t, i, m2, k))
        return cands

    def _apply(self, chosen: _Move) -> None:
        """Make the move and make its reverse tabu for a random tenure."""
        _, new_seqs, m_new, p_new, swap = chosen
        machine = self.machine
        if swap is not None:
            u, v = swap
            mm = machine[u]
            seq = self.seqs[mm][:]
            k = seq.index(u)
            seq[k], seq[k + 1] = v, u
            self.seqs = [seq if x == mm else s for x, s in enumerate(self.seqs)]
            self.tabu[(u, v)] = self.it + self.rng.randint(*self.tenure)
        else:
            moved = next(i for i in range(self.g.n) if m_new[i] != machine[i])
            self.tabu[(moved, -1 - machine[moved])] = self.it + self.rng.randint(*self.tenure)
            self.seqs, self.machine, self.p = new_seqs, m_new, p_new

    def _restart(self) -> None:
        """Restart from the best schedule with a few random critical swaps (diversification)."""
        g, rng = self.g, self.rng
        self.restarts += 1
        self.since = 0
        self.seqs, self.machine, self.p = [s[:] for s in self.best[1]], self.best[2][:], self.best[3][:]
        self.tabu.clear()
        for _ in range(3):
            self.reevaluate()
            blocks = _blocks(_critical_path(g, self.r, self.p, self.mp, self.last), self.mp)
            long_blocks = [x for x in blocks if len(x) > 1]
            if not long_blocks:
                break
            kick = rng.choice(long_blocks)
            k = rng.randrange(len(kick) - 1)
            u, v = kick[k], kick[k + 1]
            if g.js[u] == v:
                continue
            seq = self.seqs[self.machine[u]]
            x = seq.index(u)
            seq[x], seq[x + 1] = v, u
        self.reevaluate()
