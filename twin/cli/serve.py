"""``twin serve`` (the API, plus the web viewer when available), ``twin token new``, ``twin bench api``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from twin.cli import app, bench_app
from twin.cli.common import console, err_console, fail, open_store, print_json, settings, start_viewer

if TYPE_CHECKING:
    from twin.api.deps import ReplanFn
    from twin.model import Plan
    from twin.schedule.plant.energychoice import EnergyRequest

__all__ = [
    "ENV_TOKENS",
    "ENV_TOKENS_FILE",
    "api_settings",
    "bench_api",
    "bench_console",
    "serve",
    "token_app",
    "token_new",
]

token_app = typer.Typer(help="API tokens: make one and the line for the tokens file.")
app.add_typer(token_app, name="token")

#: Environment variables the serve command reads (through typer, i.e. once, at the edge).
ENV_TOKENS_FILE = "TWIN_API_TOKENS_FILE"
ENV_TOKENS = "TWIN_API_TOKENS"


def api_settings(tokens_file: Path | None, tokens_env: str | None, **kw: Any) -> Any:
    """:class:`ApiSettings` from a tokens file and/or the ``TWIN_API_TOKENS`` value."""
    from twin.api import ApiSettings
    from twin.api.auth import parse_tokens

    entries = []
    if tokens_file is not None:
        try:
            text = tokens_file.read_text()
        except OSError as exc:
            fail(f"cannot read the tokens file {tokens_file}: {exc.strerror}")
        entries += parse_tokens(text, str(tokens_file))
    if tokens_env:
        entries += parse_tokens(tokens_env, ENV_TOKENS)
    return ApiSettings(tokens=entries, **kw)


@token_app.command("new")
def token_new(
    role: str = typer.Argument(..., help="viewer, scheduler or admin"),
    name: str = typer.Option(None, "--name", help="Who the audit log names for this token."),
) -> None:
    """Print a new token (give it to the client) and its hash line (append it to the tokens file)."""
    from twin.api.auth import Role, new_token

    token, line = new_token(Role.parse(role), name)
    console.print(f"token: {token}", highlight=False, soft_wrap=True)
    console.print(f"tokens-file line: {line}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="HTTP port of the API."),
    tokens: Path = typer.Option(
        None,
        "--tokens",
        envvar=ENV_TOKENS_FILE,
        help="Tokens file: '<sha256> <role> <name>' per line (name optional).",
    ),
    tokens_env: str = typer.Option(None, hidden=True, envvar=ENV_TOKENS),
    viewer: bool = typer.Option(
        True, "--viewer/--no-viewer", help="Also serve the 3D web viewer if available."
    ),
    viewer_port: int = typer.Option(
        0, "--viewer-port", help="Port of the web viewer (default: API port + 1)."
    ),
    writeback: bool = typer.Option(
        True, "--writeback/--no-writeback", help="Wire plan dispatch to the PLCs."
    ),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="Serve HTTPS: certificate chain (PEM)."),
    tls_key: Path = typer.Option(None, "--tls-key", help="Serve HTTPS: its private key (PEM)."),
    trusted_proxies: str = typer.Option(
        None, "--trusted-proxies", help="Reverse proxies (IPs, comma-separated) whose X-Forwarded-For to use."
    ),
    data_dir: str = typer.Option(
        None,
        "--data-dir",
        envvar="TWIN_DATA_DIR",
        help="Archive to serve history and KPIs from (`twin archive`).",
    ),
) -> None:
    """Serve the REST/WebSocket API (docs at /docs) on the twin in Redis (HTTPS with --tls-cert/--tls-key)."""
    from twin.api import create_app
    from twin.api.auth import Role, new_token, parse_tokens
    from twin.api.server import SignalRearm, serve_forever
    from twin.api.wiring import scheduler_wiring

    tls = _tls_files(tls_cert, tls_key)
    store = open_store(ctx)
    store.plant()  # fail early, with one line, if no plant is loaded
    cfg = api_settings(tokens, tokens_env)
    if not cfg.tokens:
        token, line = new_token(Role.ADMIN, "ephemeral-admin")
        cfg.tokens = parse_tokens(line)
        err_console.print(
            "[yellow]no tokens configured (--tokens FILE or TWIN_API_TOKENS):[/] "
            f"an admin token for this run only: {token} (console: http://{host}:{port}/#token={token})",
            highlight=False,
            soft_wrap=True,
        )
    write = _writeback(store) if writeback else None
    wiring = scheduler_wiring(store, write)
    for note in wiring.notes:
        err_console.print(f"note: {note}", highlight=False)
    rearm = SignalRearm()
    replan, propose = _rearmed(wiring.replan, rearm), _rearmed(wiring.propose, rearm)
    archive = _archive_reader(data_dir, store.plant_id) if data_dir else None
    api = create_app(
        store, cfg, replan=replan, propose=propose, dispatch=wiring.dispatch, diff=wiring.diff,
        archive=archive,
    )  # fmt: skip
    stop_viewer = None
    if viewer:
        vport = viewer_port or port + 1
        stop_viewer = start_viewer(
            store, host, vport, lambda text: err_console.print(f"note: {text}", highlight=False)
        )
        if stop_viewer is not None:
            console.print(f"web viewer on http://{host}:{vport}/", highlight=False)
    scheme = "https" if tls else "http"
    console.print(f"API on {scheme}://{host}:{port} (docs: {scheme}://{host}:{port}/docs)", highlight=False)
    console.print(f"web console on {scheme}://{host}:{port}/ (sign in with a token)", highlight=False)
    try:
        serve_forever(api, host, port, rearm=rearm, tls=tls, trusted_proxies=trusted_proxies)
    finally:
        if stop_viewer is not None:
            stop_viewer()


def _rearmed(fn: ReplanFn | None, rearm: Callable[[], None]) -> ReplanFn | None:
    """``fn`` followed by ``rearm()``: CP-SAT resets SIGINT after a solve; keep Ctrl-C a clean shutdown."""
    if fn is None:
        return None
    solve = fn

    def run(request: EnergyRequest | None = None, /) -> Plan:
        try:
            return solve(request)
        finally:
            rearm()

    return run


def _tls_files(cert: Path | None, key: Path | None) -> Any:
    """The API's HTTPS files (None: plain HTTP); unusable ones end the command with one line, exit 2."""
    from twin.api.server import ApiServerError, TlsFiles

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        fail("HTTPS needs both --tls-cert and --tls-key", code=2)
    tls = TlsFiles(cert, key)
    try:
        tls.check()
    except ApiServerError as exc:
        fail(str(exc), code=2)
    return tls


def _writeback(store: Any) -> Any:
    """The adapters' plan writer (imported here: the CLI is the composition root)."""
    from adapters.opcua.writeback import PlanWriter

    return PlanWriter(store.plant(), store, None, actor="api")


@bench_app.command("api")
def bench_api(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="Short run (< 60 s)."),
    clients: int = typer.Option(50, "--clients", help="WebSocket clients for the fan-out test."),
) -> None:
    """Read requests/s over HTTP and WebSocket fan-out to N clients, against in-process baselines."""
    from benchmarks.api import run_bench

    result = run_bench(settings(ctx).redis_url, quick=quick, clients=clients, env=dict(os.environ))
    if json_out:
        print_json(result)
        return
    console.print(
        f"reads/s {result['reads_per_s']:.0f} (store baseline {result['baseline_store_reads_per_s']:.0f}); "
        f"WebSocket: {result['ws_clients']} clients, "
        f"{result['ws_changes_per_s_delivered']:.0f} changes/s delivered "
        f"({result['ws_changes_per_s_written']:.0f} written/s, x{result['ws_clients']} = "
        f"{result['ws_changes_per_s_expected']:.0f} expected)",
        highlight=False,
    )


@bench_app.command("console")
def bench_console(
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    quick: bool = typer.Option(False, "--quick", help="Short run (10 clients, < 90 s)."),
) -> None:
    """The web console on the demo (N feed clients + Chromium) against the trame view, in the same run."""
    from benchmarks.console import BenchError, run_console_bench

    try:
        result = run_console_bench(quick=quick, env=dict(os.environ))
    except BenchError as exc:
        fail(str(exc))
    if json_out:
        print_json(result)
        return
    console.print(
        f"{result['clients']} clients: change -> pixel p95 {result['change_to_pixel_ms_p95']} ms; "
        f"server CPU {result['server_cpu_per_client_pct_core']} % of a core per client; "
        f"{result['console_browser_bytes_per_s']:.0f} B/s per browser vs trame "
        f"{result['trame_bytes_per_browser_per_s']:.0f} B/s ({result['bytes_ratio_console_vs_trame']}); "
        f"first paint {result['first_meaningful_paint_ms_median']} ms",
        highlight=False,
    )


def _archive_reader(data_dir: str, plant_id: str) -> Any:
    """The archive the API serves history and KPIs from (created empty if the follower has not run yet)."""
    from twin.archive import ArchiveFs
    from twin.archive.reader import ArchiveReader
    from twin.cli.archive import local_data_dir

    return ArchiveReader(ArchiveFs(local_data_dir(data_dir)), plant_id)
