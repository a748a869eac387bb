"""Failed-login rate limiting on the real API: a brute force of 1,000 unknown tokens from one client gets 10
guesses, then 429 with Retry-After (logged once, never the token); the right token works from another
client at once, and from the locked-out one after its lockout. Time is the limiter's injected clock."""

from __future__ import annotations

import logging
import secrets
from collections import Counter

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.conftest import ApiEnv
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import TOKEN_PREFIX, generate_tokens
from twin.api.lockout import AuthLimiter


class Clock:
    """A hand-moved monotonic clock for the limiter (the API itself runs in real time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_counts_guesses_per_window_and_doubles_lockouts() -> None:
    clock = Clock()
    lim = AuthLimiter(max_failures=10, window_s=60, lockout_s=60, max_lockout_s=200, clock=clock)
    evaluated = 0
    for _ in range(1000):  # a burst: only the first 10 are ever looked at
        if lim.retry_after("a") is None:
            evaluated += 1
            lim.failed("a")
    assert evaluated == 10 and lim.lockouts == 1 and lim.refused == 990
    assert lim.retry_after("b") is None  # other clients are not affected
    clock.now += 59.5
    assert lim.retry_after("a") == 1
    clock.now += 1
    assert lim.retry_after("a") is None
    locks = [lim.failed("a") for _ in range(10)]
    assert locks[-1] is not None and locks[-1].seconds == 120 and not any(locks[:-1])  # doubled
    clock.now += 121
    assert [x.seconds for x in (lim.failed("a") for _ in range(10)) if x] == [200]  # capped
    clock.now += 200 + 61  # a quiet window after the lockout: back to the short one
    assert [x.seconds for x in (lim.failed("a") for _ in range(10)) if x] == [60]
    lim.succeeded("a")
    assert lim.retry_after("a") is None and lim.tracked() == 0
    small = AuthLimiter(max_clients=100, clock=clock)
    for i in range(1000):
        small.failed(f"10.0.{i // 256}.{i % 256}")
    assert small.tracked() == 100  # memory stays bounded


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.timeout(120)
async def test_brute_force_is_locked_out_logged_once_and_the_right_token_still_works(
    api_env: ApiEnv, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    tokens, entries = generate_tokens("lockout")
    app = create_app(api_env.store, ApiSettings(tokens=entries), limiter=AuthLimiter(clock=clock))
    server = run_api_in_thread(app)
    guesses = [TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in range(1000)]
    caplog.set_level(logging.WARNING, logger="twin.api")
    try:
        async with httpx.AsyncClient(base_url=server.url) as a:  # one client: 127.0.0.1
            codes: Counter[int] = Counter()
            retry_after: list[int] = []
            for g in guesses:  # X-Forwarded-For is not trusted: a guesser cannot pose as other clients
                r = await a.get("/api/v1/me", headers={**_bearer(g), "X-Forwarded-For": g[-8:]})
                codes[r.status_code] += 1
                if r.status_code == 429:
                    retry_after.append(int(r.headers["retry-after"]))
                    assert "try again in" in r.json()["error"]["message"]
            assert codes == {401: 10, 429: 990}
            assert retry_after and all(1 <= s <= 60 for s in retry_after)
            refused = await a.get("/api/v1/me", headers=_bearer(tokens["admin"]))
            assert refused.status_code == 429  # locked out: the right token waits for the lockout too
            async with connect(f"{server.ws_url}/api/v1/ws/changes?token={tokens['viewer']}") as ws:
                assert "too_many_requests" in str(await ws.recv())
        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=server.url, transport=other) as b:  # another client
            me = await b.get("/api/v1/me", headers=_bearer(tokens["viewer"]))
            assert me.status_code == 200 and me.json()["role"] == "viewer"
        clock.now += 61  # the lockout window passes
        async with httpx.AsyncClient(base_url=server.url) as a:
            assert (await a.get("/api/v1/me", headers=_bearer(tokens["admin"]))).status_code == 200
            metrics = (await a.get("/metrics")).text
        assert "twin_auth_lockouts_total 1" in metrics and "twin_auth_refused_total 992" in metrics
    finally:
        server.stop()
    messages = [r.getMessage() for r in caplog.records]
    lockouts = [m for m in messages if "auth lockout" in m]
    assert len(lockouts) == 1 and "client 127.0.0.1 sent 10 unknown tokens" in lockouts[0], lockouts
    assert not [g for g in guesses for m in messages if g in m or g[len(TOKEN_PREFIX) :][:12] in m]
