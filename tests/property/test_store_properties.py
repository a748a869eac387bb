"""Property tests of the twin store: encodings round-trip, bad values never become good, junk demand
changes nothing, and plan versions behave like a compare-and-swap register (against a real redis-server).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.conftest import MINI_PLANT
from twin.changes import Change
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.errors import NotFoundError, ValidationError
from twin.model import Plan, PlanAssignment
from twin.store import TwinStore
from twin.store.encoding import decode_changes, decode_value, encode_changes, encode_value

FAST = settings(max_examples=200, deadline=None)
WITH_REDIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# JSON scalars as a PLC delivers them (finite floats, ints within JSON's exact range, text, bools, None)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
values = st.one_of(scalars, st.lists(scalars, max_size=8))  # arrays are tag values too
qualities = st.sampled_from(["good", "uncertain", "bad", "stale"])
timestamps = st.floats(0, 4e9, allow_nan=False)
ids = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123456789", min_size=1, max_size=12)


@FAST
@given(values, qualities, timestamps, timestamps)
def test_live_value_encoding_round_trips(value: Any, quality: str, ts: float, sts: float) -> None:
    assert decode_value(encode_value(value, quality, ts, sts)) == (value, quality, ts, sts)


@FAST
@given(st.lists(st.tuples(ids, ids, values, qualities, timestamps), max_size=20))
def test_change_entry_encoding_round_trips(changes: list[tuple[str, str, Any, str, float]]) -> None:
    decoded = decode_changes(encode_changes([Change(*c) for c in changes]))
    assert decoded == [Change(*c) for c in changes]
    assert all(isinstance(c, Change) for c in decoded)


@FAST
@given(st.sampled_from([math.nan, math.inf, -math.inf]), qualities)
def test_non_finite_values_cannot_be_encoded(value: float, quality: str) -> None:
    """The encoders refuse NaN/inf (they would be invalid JSON); the store turns them into bad/null."""
    with pytest.raises(ValueError):
        encode_value(value, quality, 0.0, 0.0)
    with pytest.raises(ValueError):
        encode_changes([Change("E", "t", value, quality, 0.0)])


# ---------------------------------------------------------------------------- against a real Redis
def _whole(text: str) -> bool:
    """True if ``int()`` reads ``text`` as a whole number >= 0 (``"+5"``, ``" 7 "``, ``"1_0"``: valid)."""
    try:
        return int(text.strip()) >= 0
    except ValueError:
        return False


def _snapshot(store: TwinStore) -> dict[str, Any]:
    c = store.client
    return {k: (c.type(k), c.dump(k)) for k in sorted(c.scan_iter(match="*"))}


@WITH_REDIS
@given(
    st.one_of(st.sampled_from(["A", "B"]), ids),
    st.one_of(
        st.integers(max_value=-1),
        st.floats().filter(lambda f: not (math.isfinite(f) and f == int(f) and f >= 0)),
        st.text().filter(lambda t: not _whole(t)),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
)
def test_junk_demand_is_refused_and_changes_nothing(store: TwinStore, model: str, qty: Any) -> None:
    before = _snapshot(store)
    with pytest.raises(ValidationError):
        store.set_demand(model, qty)
    assert _snapshot(store) == before


@WITH_REDIS
@given(st.sampled_from(["A", "B"]), st.integers(0, 10**9))
def test_valid_demand_changes_exactly_that_model(store: TwinStore, model: str, qty: int) -> None:
    before = store.demand()
    events = len(store.demand_events(count=10_000))
    store.set_demand(model, qty)
    assert store.demand() == {**before, model: qty}
    assert len(store.demand_events(count=10_000)) == events + 1


@WITH_REDIS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["L1-WELD", "L2-PAINT", "C-1"]),
            st.sampled_from(["power_kw", "state", "part_count"]),
            st.one_of(st.floats(), st.integers(-1000, 1000), st.text(max_size=5)),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_written_values_read_back_and_non_finite_is_bad(
    store: TwinStore, batch: list[tuple[str, str, Any]]
) -> None:
    t = time.time()
    store.write_changes([(e, tag, v, "good", t) for e, tag, v in batch])
    last: dict[tuple[str, str], Any] = {}
    for e, tag, v in batch:
        last[(e, tag)] = v
    for (e, tag), v in last.items():
        got, quality, _ts = store.read_tags(e)[tag]
        if isinstance(v, float) and not math.isfinite(v):
            assert (got, quality) == (None, "bad")
        else:
            assert (got, quality) == (v, "good")
    [(_id, _src, changes)] = store.change_range("-", "+", count=None)[-1:]
    assert len(changes) == len(batch)
    json.dumps([c.value for c in changes], allow_nan=False)  # the feed never carries NaN


# ---------------------------------------------------------------------------- plans as a CAS register
class PlanRegister(RuleBasedStateMachine):
    """Model: plan versions 1..n, current == n; a stale compare-and-swap changes nothing."""

    url = ""

    @initialize()
    def setup(self) -> None:
        c = redis.Redis.from_url(self.url)
        c.flushall()
        c.close()
        self.store = TwinStore.from_url(self.url)
        self.store.load_plant(load_plant(MINI_PLANT))
        self.docs: dict[int, list[tuple[str, str, int]]] = {}

    def _plan(self, lots: list[tuple[str, str, int]]) -> Plan:
        return Plan(
            assignments=[
                PlanAssignment(resource=r, model=m, quantity=q, start_s=0, end_s=60) for r, m, q in lots
            ]
        )

    lots = st.lists(
        st.tuples(st.sampled_from(["L1", "L2", "C"]), st.sampled_from(["A", "B"]), st.integers(1, 500)),
        max_size=4,
    )

    @rule(lots=lots)
    def put(self, lots: list[tuple[str, str, int]]) -> None:
        v = self.store.put_plan(self._plan(lots))
        assert v == len(self.docs) + 1
        self.docs[v] = lots

    @rule(lots=lots)
    def cas_current(self, lots: list[tuple[str, str, int]]) -> None:
        cur = len(self.docs) or None
        v = self.store.put_plan(self._plan(lots), expect_current=cur, check=True)
        self.docs[v] = lots

    @precondition(lambda self: len(self.docs) > 0)
    @rule(lots=lots, lag=st.integers(1, 3))
    def cas_stale(self, lots: list[tuple[str, str, int]], lag: int) -> None:
        stale = max(len(self.docs) - lag, 0) or None
        with pytest.raises(ValidationError, match="changed meanwhile"):
            self.store.put_plan(self._plan(lots), expect_current=stale, check=True)

    @rule(v=st.integers(-3, 60))
    def get(self, v: int) -> None:
        if v in self.docs:
            plan = self.store.get_plan(v)
            assert plan.version == v
            assert [(a.resource, a.model, a.quantity) for a in plan.assignments] == self.docs[v]
        else:
            with pytest.raises(NotFoundError):
                self.store.get_plan(v)

    @invariant()
    def versions_are_contiguous(self) -> None:
        if not hasattr(self, "store"):
            return
        n = len(self.docs)
        assert self.store.plan_versions() == list(range(1, n + 1))
        assert self.store.current_plan_version() == (n or None)

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.client.close()


def test_plan_versions_are_a_compare_and_swap_register(redis_server: EmbeddedRedis) -> None:
    PlanRegister.url = redis_server.url
    run = PlanRegister.TestCase
    run.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
    run().runTest()
