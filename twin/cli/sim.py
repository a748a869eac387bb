"""``twin sim``: the simulated PLCs of a plant alone (one OPC UA server per line) until Ctrl-C.

``adapters.simulator`` is imported inside the command (the CLI is the composition root and starts fast).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from twin.cli import app
from twin.cli.common import DEFAULT_CONFIG, fail
from twin.cli.demoparts import install_stop, say, sim_options, wait_until
from twin.config import load_plant
from twin.model import Plant

__all__ = ["sim"]


@app.command()
def sim(
    config: Path = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Plant definition (YAML)."),
    speed: float = typer.Option(60.0, "--speed", help="Simulated seconds per wall-clock second."),
    base_port: int = typer.Option(
        None, "--base-port", help="Serve line i on port base_port+i (default: the config's endpoints)."
    ),
    duration: float = typer.Option(
        0.0, "--duration", help="Stop this many seconds after the servers are up (0: until Ctrl-C)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of the simulation."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface for --base-port endpoints (0.0.0.0: all)."
    ),
    calendar: bool = typer.Option(
        False,
        "--calendar/--no-calendar",
        help="Follow the plant's shift calendar (simulated clock starts now, UTC): Off outside shifts.",
    ),
    security: str = typer.Option(
        "none", "--security", help="none, sign or sign-encrypt (Basic256Sha256; needs --trusted-clients)."
    ),
    cert: Path = typer.Option(
        None, "--cert", help="Server certificate (DER); default: one generated at start in a temp dir."
    ),
    key: Path = typer.Option(None, "--key", help="Private key (PEM) of --cert."),
    trusted_clients: list[Path] = typer.Option(
        [], "--trusted-clients", help="Directory (or file) of client certificates accepted; repeatable."
    ),
    user: list[str] = typer.Option(
        [],
        "--user",
        help="Account NAME:PASSWORD[:ROLE] (role reader, writer (default: may call plan.Load) or admin); "
        "repeatable. With accounts, anonymous logins are refused.",
    ),
) -> None:
    """Run the simulated PLCs of a plant (one OPC UA server per line) until Ctrl-C."""
    import tempfile

    from adapters.simulator.plant import SimulatorError
    from adapters.simulator.secure import sim_security

    if speed <= 0:
        fail(f"--speed must be > 0 (got {speed})")
    if duration < 0:
        fail(f"--duration must be >= 0 (got {duration})")
    plant = load_plant(config)
    with tempfile.TemporaryDirectory(prefix="sdf-twin-sim-") as tmp:  # generated keys die with the run
        try:
            sec = sim_security(
                security, cert=cert, key=key, trusted_clients=trusted_clients, users=user, workdir=Path(tmp)
            )
        except SimulatorError as exc:
            fail(str(exc))
        if sec.certificate is not None:
            origin = "generated for this run" if sec.generated else "given"
            say(f"server certificate ({origin}; clients must trust it): {sec.certificate}")
        asyncio.run(
            _run_sim(
                plant,
                speed=speed,
                base_port=base_port,
                duration=duration or None,
                seed=seed,
                host=host,
                security=sec.server,
                calendar=calendar,
            )
        )
    say("stopped")


async def _run_sim(
    plant: Plant,
    *,
    speed: float,
    base_port: int | None,
    duration: float | None,
    seed: int,
    host: str,
    security: Any = None,
    calendar: bool = False,
) -> None:
    from adapters.simulator import SimulatedPlant

    stop = asyncio.Event()
    install_stop(stop)
    sim = SimulatedPlant(
        plant,
        speed=speed,
        base_port=base_port,
        seed=seed,
        host=host,
        security=security,
        options=sim_options(calendar),
    )
    try:
        t0 = time.monotonic()
        await sim.start()
        say(f"simulated PLCs of plant {plant.id}, {speed:g}x speed:")
        for line_id, url in sim.endpoints.items():
            say(f"  {line_id}: {url}")
        say(f"ready in {time.monotonic() - t0:.1f} s: {len(sim.endpoints)} OPC UA servers; Ctrl-C stops")

        async def beat(elapsed: float) -> None:
            counts = Counter(v["state"] for v in sim.snapshot().values())
            say(
                f"[{elapsed:5.0f}s] sim t={sim.sim.env.now / 3600:.2f} h: "
                + ", ".join(f"{k} {n}" for k, n in counts.most_common())
            )

        await wait_until(stop, duration, beat)
    finally:
        await sim.stop()
