"""``homesim credentials`` and ``homesim wamp call|sub|pub``: credentials and an
authenticated WAMP client for people (registered on the main app by :mod:`homesim.infra.cli`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from homesim.infra.credentials import CredentialError, credential_for

err = Console(stderr=True, soft_wrap=True)

ROLE_HELP = ("manager (every property, the clock), viewer (read, subscribe), operator "
             "(live property updates), resident (with --flat: that flat's devices only)")


def credentials(
    run_dir: Annotated[Path, typer.Argument(help="A run folder of `homesim run`")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "viewer",
    flat: Annotated[str | None, typer.Option(help="The flat (role resident)")] = None,
    show_secret: Annotated[bool, typer.Option(
        "--show-secret", help="Print the secret itself (default: only its file)")] = False,
    fmt: Annotated[str, typer.Option("--format", help="json or env")] = "json",
) -> None:
    """Print the credential of a role for a running (or finished) local run.

    Every client of a homesim router authenticates; `homesim run` writes one secret per
    identity into RUN_DIR/secrets/ (0600). Use the credential with `homesim wamp --run
    RUN_DIR --role ROLE`, or with any WAMP client that speaks WAMP-CRA or ticket: authid and
    secret as printed, realm and ws_url from here.

    In Kubernetes the secrets are in the Home's Secret: `kubectl get secret HOME-wamp -o
    jsonpath='{.data.manager}' | base64 -d`.
    """
    try:
        cred = credential_for(run_dir, role, flat)
    except CredentialError as exc:
        err.print(f"[red]✗[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    data: dict[str, Any] = cred.public()
    if show_secret:
        data["secret"] = cred.secret
    if fmt == "env":
        names = {"ws_url": "HOMESIM_WS_URL", "rs_url": "HOMESIM_ROUTER_URL",
                 "realm": "HOMESIM_REALM", "authid": "HOMESIM_AUTHID",
                 "secret_file": "HOMESIM_SECRET_FILE", "role": "HOMESIM_ROLE",
                 "secret": "HOMESIM_SECRET"}
        for key, value in data.items():
            print(f"export {names[key]}={json.dumps(str(value))}")
    elif fmt == "json":
        print(json.dumps(data, indent=2))
    else:
        err.print(f"[red]✗[/red] --format must be json or env, not {escape(fmt)!r}")
        raise typer.Exit(2)


wamp_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help="An authenticated WAMP client: call a procedure, subscribe to a topic, publish.\n\n"
         "Local run:  [bold]homesim wamp --run RUN_DIR --role manager call "
         "homesim.device.battery.get soc_min[/bold]\n\n"
         "Kubernetes: [bold]kubectl port-forward svc/HOME-router 8080[/bold], then "
         "[bold]homesim wamp --url ws://127.0.0.1:8080/ws --realm HOME --authid manager "
         "--secret-file FILE call homesim.clock.status[/bold]",
)

_target: dict[str, Any] = {}


@wamp_app.callback()
def _wamp_target(
    run: Annotated[Path | None, typer.Option(help="A run folder: URL, realm and secret "
                                                  "from there")] = None,
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "viewer",
    flat: Annotated[str | None, typer.Option(help="The flat (role resident)")] = None,
    url: Annotated[str | None, typer.Option(help="ws://host:port/ws or rs://host:port")] = None,
    realm: Annotated[str | None, typer.Option(help="The home's realm (its name)")] = None,
    authid: Annotated[str | None, typer.Option(help="Identity (with --url)")] = None,
    secret_file: Annotated[Path | None, typer.Option(
        help="File holding the identity's secret (with --url)")] = None,
) -> None:
    """Where to connect and as whom (--run, or --url/--realm/--authid/--secret-file)."""
    _target.update(run=run, role=role, flat=flat, url=url, realm=realm, authid=authid,
                   secret_file=secret_file)


def _settings() -> Any:
    """BusSettings for the chosen target (exit 2 with a message if it is incomplete)."""
    from homesim.devices.bus.runtime import BusSettings, CredentialsError, read_secret

    t = _target
    if t.get("run"):
        try:
            cred = credential_for(t["run"], t["role"], t["flat"])
        except CredentialError as exc:
            err.print(f"[red]✗[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        return BusSettings(router=t["url"] or cred.ws_url, realm=cred.realm,
                           authid=cred.authid, secret=cred.secret, max_retries=3)
    if not (t.get("url") and t.get("realm")):
        err.print("[red]✗[/red] give --run RUN_DIR, or --url and --realm (with --authid and "
                  "--secret-file)")
        raise typer.Exit(2)
    secret = None
    if t.get("secret_file"):
        try:
            secret = read_secret(t["secret_file"])
        except CredentialsError as exc:
            err.print(f"[red]✗[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    return BusSettings(router=t["url"], realm=t["realm"], authid=t.get("authid"),
                       secret=secret, max_retries=3)


def _json_args(raw: list[str]) -> list[Any]:
    out = []
    for x in raw:
        try:
            out.append(json.loads(x))
        except json.JSONDecodeError:
            out.append(x)  # a bare word is a string: `get soc_min`
    return out


@wamp_app.command("call")
def wamp_call(
    procedure: Annotated[str, typer.Argument(help="e.g. homesim.device.battery.get")],
    args: Annotated[list[str] | None, typer.Argument(
        help="Arguments: JSON values (a bare word is a string)")] = None,
) -> None:
    """Call a procedure once; print the result as JSON (exit 1 on a WAMP error)."""
    from homesim.devices.bus import client

    settings = _settings()
    raise typer.Exit(client.call(settings, procedure, _json_args(args or [])))


@wamp_app.command("sub")
def wamp_sub(
    topic: Annotated[str, typer.Argument(help="e.g. homesim.clock.progress")],
    match: Annotated[str, typer.Option(help="exact, prefix or wildcard")] = "exact",
    count: Annotated[int, typer.Option(help="Stop after this many events (0: never)")] = 0,
    timeout: Annotated[float, typer.Option(help="Stop after this many seconds (0: never) "
                                                "\\[s]")] = 0.0,
) -> None:
    """Print every event on a topic as a JSON line."""
    from homesim.devices.bus import client

    settings = _settings()
    raise typer.Exit(client.subscribe(settings, topic, match, count, timeout))


@wamp_app.command("pub")
def wamp_pub(
    topic: Annotated[str, typer.Argument(help="Topic URI")],
    payload: Annotated[str, typer.Argument(help="A JSON object")],
) -> None:
    """Publish one JSON object (acknowledged: a refused publish exits 1)."""
    from homesim.devices.bus import client

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        err.print(f"[red]✗[/red] the payload must be a JSON object: {escape(str(exc))}")
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        err.print("[red]✗[/red] the payload must be a JSON object")
        raise typer.Exit(2)
    settings = _settings()
    raise typer.Exit(client.publish(settings, topic, data))
