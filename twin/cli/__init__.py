"""The ``twin`` command: the one place that reads settings and wires the parts together.

Each command group lives in its own module and registers itself on :data:`app` (or :data:`bench_app`).
"""

from __future__ import annotations

import importlib
import logging
import sys

import pydantic
import typer

from twin.cli.common import Settings, err_console, fail
from twin.errors import ConfigError, TwinError

__all__ = [
    "COMMAND_MODULES",
    "GLOBAL_OPTIONS",
    "app",
    "bench_app",
    "hoist_global_options",
    "main",
    "usage_error_line",
]

app = typer.Typer(
    name="twin",
    help="sdf-twin: digital twin of a software-defined factory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print JSON and compare against a baseline in the same run.")
app.add_typer(bench_app, name="bench")

#: Command modules, imported for their registrations (a broken import fails the whole CLI, loudly).
COMMAND_MODULES = (
    "twin.cli.core",  # load, status, graph, plant generate
    "twin.cli.demo",  # demo
    "twin.cli.sim",  # sim
    "twin.cli.adapt",  # adapt, bench ingest
    "twin.cli.opcua",  # opcua browse, opcua draft
    "twin.cli.solve",  # schedule solve
    "twin.cli.plan",  # demand, replan, plan show/diff, replanner, bench replan
    "twin.cli.viz",  # view, snapshot, bench viewer
    "twin.cli.serve",  # serve, bench api
)


@app.callback()
def root(
    ctx: typer.Context,
    redis_url: str = typer.Option(
        None, "--redis-url", envvar="REDIS_URL", help="Redis server (default: an embedded one for `demo`)."
    ),
    plant: str = typer.Option(None, "--plant", help="Plant id, when Redis holds several."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Digital twin of a software-defined factory."""
    try:
        ctx.obj = Settings(redis_url=redis_url, plant=plant, verbose=verbose)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        fail(f"--redis-url / REDIS_URL: {cause or err['msg']}", code=2)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # asyncua logs whole publish results at INFO.
    for noisy in ("asyncua", "opcua", "trame", "wslink", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


for _mod in COMMAND_MODULES:
    importlib.import_module(_mod)


#: Root options that every command accepts anywhere on the line (``twin status --redis-url URL``).
GLOBAL_OPTIONS = {"--redis-url": True, "--plant": True, "--verbose": False, "-v": False}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move root options given after a subcommand to the front, where click expects them.

    Every command takes ``--redis-url``; click only parses a group's options before
    the subcommand, so ``twin status --json --redis-url URL`` is rewritten to
    ``twin --redis-url URL status --json``. Everything after ``--`` is left alone.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name, eq, _value = arg.partition("=")
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name]
            if takes_value and not eq and i + 1 < len(argv):
                front.extend(argv[i : i + 2])
                i += 2
                continue
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _click_error(name: str) -> type[Exception]:
    """click's exception class ``name`` (typer vendors click in newer versions: found via its MRO)."""
    cls = next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)
    assert issubclass(cls, Exception)
    return cls


def usage_error_line(exc: Exception) -> str:
    """A click usage error as one line, with where to look: ``Missing argument 'MODEL'. (see `...`)``."""
    message = getattr(exc, "format_message", lambda: str(exc))()
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else " (see `twin --help`)"
    return " ".join(str(message).split()) + where


def main() -> None:
    """Console-script entry point: every failure is one clear line and a non-zero exit."""
    click_exception, usage_error = _click_error("ClickException"), _click_error("UsageError")
    try:
        # Not standalone: click's usage errors reach us (its own report is a multi-line box).
        rc = app(args=hoist_global_options(sys.argv[1:]), prog_name="twin", standalone_mode=False)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `twin demand`: the help is already printed
            sys.exit(2)
        err_console.print(f"[bold red]error:[/] {usage_error_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except click_exception as exc:
        err_console.print(f"[bold red]error:[/] {usage_error_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 1))
    except ConfigError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except TwinError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        err_console.print("aborted", highlight=False)
        sys.exit(1)
    # A command's return value is None; an int is the code of a typer.Exit / ctx.exit().
    sys.exit(rc if isinstance(rc, int) else 0)
