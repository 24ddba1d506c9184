"""``homesim serve``: the web builder (``web/dist``) and its HTTP API on one loopback port.

The contract between the page and this server is ``docs/web-api.md``. In short:

* the first line on stdout with ``http://`` is the URL to open, with a fresh access token
  (``secrets.token_urlsafe(32)``, as Jupyter does); every ``/api/*`` request but
  ``/api/health`` needs it (``Authorization: Bearer <token>`` or the ``homesim_token``
  cookie that opening ``/?token=<token>`` sets). The token is compared in constant time and
  never logged (this server writes no access log);
* ``/api/kinds`` are the registry's descriptors with each kind's properties JSON Schema and
  its live (``x-live``) properties; ``/api/validate`` and ``/api/runs`` check a manifest
  exactly as ``homesim validate`` / ``homesim run`` do (:mod:`homesim.infra.preflight`:
  the same field paths);
* a run is the run of ``homesim run`` (:mod:`homesim.infra.serve_run` calls the supervisor in
  a process of its own, in ``<runs>/<id>/``); the page joins the run's router itself with
  the ``manager`` credential the run answer carries (WAMP ticket on the router's WebSocket).

Server stack: ``twisted.web``. Twisted is already a dependency (``autobahn[twisted]``: the
device runtime and the router use it), so the builder adds no package; its process support
(:func:`reactor.spawnProcess`) reads every run's JSON lines without a thread per run, and
the blocking checks (reading weather files) go to the reactor's thread pool.

Relative file paths in a manifest the page sends (``weather.file: weather/x.csv``) are
resolved against ``examples/`` (where the page's templates come from).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["serve", "ServeApp", "kinds_json", "examples_json", "check_text", "WEB_DIST",
           "EXAMPLES", "TOKEN_COOKIE"]

REPO = Path(__file__).resolve().parents[1]
#: The built page (``cd web && npm ci && npm run build``).
WEB_DIST = REPO / "web" / "dist"
#: Templates the page offers (``GET /api/examples``); relative paths in posted manifests.
EXAMPLES = REPO / "examples"
TOKEN_COOKIE = "homesim_token"
#: Largest request body [B] (a manifest is at most 10 MiB as a file; JSON adds escapes).
MAX_BODY = 16 * 2**20
FORK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
#: Names ``POST /api/runs`` reports option errors under (``until: '7' has no unit``).
OPTION_LABELS = {"duration": "until", "dt": "dt", "speed": "speed", "seed": "seed",
                 "timeout": "timeout"}
NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>homesim builder</title>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>homesim: the builder is not built</h1>
<p>The web builder is not built: <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>,
then restart <code>homesim serve</code>. The API (<code>/api/*</code>) works without it;
see <code>docs/web-api.md</code>.</p>"""


# ---------------------------------------------------------------------------- pure helpers
def kinds_json() -> list[dict[str, Any]]:
    """Every registry kind (plugins included): the descriptor fields the builder reads,
    ``properties_schema`` (the JSON Schema of its properties model) and ``live`` (its
    ``x-live`` properties). One source with ``web/src/generated/registry.json``:
    :func:`homesim.schemas.regen.kinds_api`."""
    from homesim.schemas.regen import kinds_api

    kinds: list[dict[str, Any]] = kinds_api()["kinds"]
    return kinds


def examples_json(folder: Path = EXAMPLES) -> list[dict[str, str]]:
    """``{"name", "title", "yaml"}`` of every ``*.yaml`` in ``folder`` (title: the file's
    first comment line, else its name)."""
    out = []
    for p in sorted(folder.glob("*.yaml")):
        text = p.read_text(encoding="utf-8")
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        title = first.lstrip("#").strip() if first.startswith("#") else p.stem
        out.append({"name": p.stem, "title": title, "yaml": text})
    return out


def check_text(text: str, overrides: dict[str, Any] | None = None,
               base: Path = EXAMPLES) -> tuple[str, Any]:
    """Check a manifest given as text exactly as ``homesim validate`` / ``run`` check a file
    (:func:`homesim.schemas.manifest.load_any` then :func:`homesim.infra.preflight.load_checked`:
    size, encoding and YAML bombs, the Home/Block models, topology, every file it names read
    as its device reads it, the simulation ``overrides``); relative file paths resolve
    against ``base``. Returns ``(kind, home)``: ``"Home"`` or ``"Block"`` and the resolved
    Home.

    Raises
    ------
    homesim.schemas.manifest.ManifestError
        With every ``(field path, reason)``; overrides under :data:`OPTION_LABELS`.
    """
    import tempfile

    from homesim.infra.preflight import check_files
    from homesim.schemas.manifest import (
        ManifestError,
        parse_any,
        read_manifest_data,
        resolve_paths,
        with_simulation,
    )

    with tempfile.TemporaryDirectory(prefix="homesim-serve-") as tmp:
        p = Path(tmp) / "manifest.yaml"
        p.write_bytes(text.encode("utf-8", "surrogatepass"))  # read_manifest_data judges it
        data = read_manifest_data(p)
    kind = data.get("kind") if isinstance(data, dict) else None
    home = parse_any(data, "manifest")
    home = resolve_paths(home, base, check=True)
    home = with_simulation(home, **(overrides or {}), labels=OPTION_LABELS)
    try:
        check_files(home)
    except ManifestError as exc:
        raise ManifestError(exc.errors, "manifest") from None
    return ("Block" if kind == "Block" else "Home"), home


def _errors(exc: Any) -> list[dict[str, str]]:
    return [{"path": str(p), "message": str(m)} for p, m in exc.errors]


def _speed(value: Any) -> str | None:
    """The API's ``speed`` (``"max"``, ``"realtime"``, a multiple of real time) as the
    manifest's (``max``, ``realtime``, ``Nx``); the manifest model judges the result."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    return f"{value:g}x"


# ---------------------------------------------------------------------------- runs
@dataclass
class RunRecord:
    """A run this server started (its JSON is the API's Run)."""

    id: str
    name: str
    out: Path
    created: str
    status: str = "starting"
    progress: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    stop_requested: bool = False
    process: Any = field(default=None, repr=False)
    ended: Any = field(default=None, repr=False)  # a Deferred firing when the process ended
    stderr: bytearray = field(default_factory=bytearray, repr=False)

    def wamp(self) -> dict[str, str] | None:
        """The manager's credential for the run's router while it runs, else None."""
        if self.status != "running":
            return None
        from homesim.infra.credentials import CredentialError, credential_for

        try:
            c = credential_for(self.out, "manager")
        except CredentialError:
            return None
        return {"url": c.ws_url, "realm": c.realm, "authid": c.authid, "ticket": c.secret}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status,
                "created": self.created, "out": str(self.out), "progress": self.progress,
                "summary": self.summary, "error": self.error, "wamp": self.wamp()}

    # -------------------------------------------------- the runner's JSON lines
    def on_event(self, ev: dict[str, Any]) -> None:
        what = ev.get("event")
        if what == "phase" and ev.get("text") == "running" and self.status == "starting":
            self.status = "running"
        elif what == "progress":
            self.progress = {k: v for k, v in ev.items() if k != "event"}
            if self.status == "starting":
                self.status = "running"
        elif what == "done":
            self.summary = ev.get("summary") if isinstance(ev.get("summary"), dict) else None
            if ev.get("ok"):
                self.status = "finished"
            else:
                self.status = "stopped" if self.stop_requested else "failed"
                self.error = str(ev.get("message") or "the run failed")

    def on_exit(self, code: int | None) -> None:
        self.process = None
        if self.status in ("starting", "running"):  # ended without its "done" line
            self.status = "stopped" if self.stop_requested else "failed"
            tail = self.stderr.decode(errors="replace")[-2000:].strip()
            self.error = f"the run's process exited with {code}" + (f": {tail}" if tail else "")
        if self.summary is None:
            with contextlib.suppress(OSError, ValueError):
                s = json.loads((self.out / "summary.json").read_text())
                self.summary = s if isinstance(s, dict) else None


def _runner_protocol(rec: RunRecord) -> Any:
    from twisted.internet import defer, protocol

    class Runner(protocol.ProcessProtocol):
        def __init__(self) -> None:
            self.buf = b""
            self.ended: defer.Deferred[None] = defer.Deferred()

        def outReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
            self.buf += data
            *lines, self.buf = self.buf.split(b"\n")
            for line in lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict):
                    rec.on_event(ev)

        def errReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
            rec.stderr += data
            del rec.stderr[:-8192]

        def processEnded(self, reason: Any) -> None:  # noqa: N802 - Twisted's name
            code = getattr(reason.value, "exitCode", None)
            rec.on_exit(code)
            self.ended.callback(None)

    return Runner()


# ---------------------------------------------------------------------------- the app
class ServeApp:
    """The API's state and request handling (one per server; Twisted's reactor thread)."""

    def __init__(self, runs: Path, token: str, dist: Path = WEB_DIST) -> None:
        self.runs_dir = runs.resolve()
        self.token = token
        self.dist = dist
        self.runs: dict[str, RunRecord] = {}
        self._kinds: list[dict[str, Any]] | None = None

    # -------------------------------------------------- auth
    def authorized(self, request: Any) -> bool:
        want = self.token.encode()
        auth = request.getHeader(b"authorization") or ""
        if isinstance(auth, bytes):
            auth = auth.decode("latin-1")
        if auth.startswith("Bearer ") and \
                hmac.compare_digest(auth[7:].strip().encode("latin-1", "replace"), want):
            return True
        cookie = request.getCookie(TOKEN_COOKIE.encode())
        return cookie is not None and hmac.compare_digest(cookie, want)

    # -------------------------------------------------- responses
    @staticmethod
    def _headers(request: Any) -> None:
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"referrer-policy", b"no-referrer")  # the token is in the URL
        request.setHeader(b"x-frame-options", b"DENY")

    def _json(self, request: Any, status: int, obj: Any) -> bytes:
        self._headers(request)
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(obj, default=str).encode()

    def _error(self, request: Any, status: int, code: str, message: str = "",
               errors: list[dict[str, str]] | None = None) -> bytes:
        body: dict[str, Any] = {"error": code, "message": message or code.replace("_", " ")}
        if errors is not None:
            body["errors"] = errors
        return self._json(request, status, body)

    def _later(self, request: Any, d: Any) -> Any:
        """Finish ``request`` with the bytes ``d`` fires with (unless the client left)."""
        from twisted.web.server import NOT_DONE_YET

        gone = {"flag": False}
        request.notifyFinish().addErrback(lambda _: gone.update(flag=True))

        def write(body: bytes) -> None:
            if not gone["flag"]:
                request.write(body)
                request.finish()

        def fail(f: Any) -> None:
            write(self._error(request, 500, "internal", f"{f.type.__name__}: {f.value}"))

        d.addCallback(write).addErrback(fail)
        return NOT_DONE_YET

    # -------------------------------------------------- dispatch
    def render(self, request: Any) -> Any:
        path = request.path.decode("utf-8", "replace")
        method = request.method.decode("ascii", "replace")
        if path == "/api" or path.startswith("/api/"):
            if path == "/api/health":
                from importlib.metadata import version

                return self._json(request, 200, {"ok": True, "version": version("homesim")})
            if not self.authorized(request):
                return self._json(request, 401, {"error": "unauthorized"})
            try:
                return self._api(request, method, path[len("/api"):].rstrip("/"))
            except Exception as exc:  # noqa: BLE001 - a JSON error, never a traceback page
                return self._error(request, 500, "internal", f"{type(exc).__name__}: {exc}")
        if method not in ("GET", "HEAD"):
            return self._error(request, 405, "method_not_allowed")
        return self._static(request, path)

    def _api(self, request: Any, method: str, path: str) -> Any:
        parts = path.split("/")[1:]  # "/runs/x" -> ["runs", "x"]
        route = (method, *(p if i == 0 or p in ("stop", "report", "forks") else "*"
                           for i, p in enumerate(parts)))
        if route == ("GET", "kinds"):
            if self._kinds is None:
                self._kinds = kinds_json()
            return self._json(request, 200, {"kinds": self._kinds})
        if route == ("GET", "examples"):
            return self._json(request, 200, {"examples": examples_json()})
        if route == ("POST", "validate"):
            return self._validate(request)
        if route == ("POST", "runs"):
            return self._start(request)
        if route == ("GET", "runs"):
            return self._json(request, 200, {"runs": [r.to_json() for r in self.runs.values()]})
        if route[1:2] == ("runs",) and len(parts) >= 2:
            rec = self.runs.get(parts[1])
            if rec is None:
                return self._error(request, 404, "not_found", f"no run {parts[1][:100]!r}")
            if route == ("GET", "runs", "*"):
                return self._json(request, 200, rec.to_json())
            if route == ("POST", "runs", "*", "stop"):
                self.stop(rec)
                return self._json(request, 200, rec.to_json())
            if route == ("GET", "runs", "*", "report"):
                return self._report(request, rec)
            if route == ("GET", "runs", "*", "forks", "*"):
                return self._fork(request, rec, parts[3])
        known = {"kinds", "examples", "validate", "runs"}
        if parts and parts[0] in known:
            return self._error(request, 405 if len(parts) == 1 else 404,
                               "method_not_allowed" if len(parts) == 1 else "not_found")
        return self._error(request, 404, "not_found", f"no API {path[:100]!r}")

    # -------------------------------------------------- bodies
    def _body(self, request: Any) -> tuple[dict[str, Any] | None, bytes | None]:
        """The JSON object of the request, or ``(None, error response)``."""
        raw = request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return None, self._error(request, 413, "too_large",
                                     f"request body over {MAX_BODY // 2**20} MiB")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return None, self._error(request, 400, "bad_request", "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("yaml"), str):
            return None, self._error(request, 400, "bad_request",
                                     'give a JSON object {"yaml": "<manifest>", ...}')
        return body, None

    def _validate(self, request: Any) -> Any:
        from twisted.internet.threads import deferToThread

        body, bad = self._body(request)
        if body is None:
            return bad

        def check() -> dict[str, Any]:
            from homesim.schemas.manifest import ManifestError

            try:
                kind, _ = check_text(body["yaml"])
            except ManifestError as exc:
                return {"ok": False, "errors": _errors(exc)}
            return {"ok": True, "kind": kind, "errors": []}

        return self._later(request, deferToThread(check).addCallback(
            lambda res: self._json(request, 200, res)))

    def _start(self, request: Any) -> Any:
        from twisted.internet.threads import deferToThread

        body, bad = self._body(request)
        if body is None:
            return bad
        overrides = {"until": body.get("until"), "dt": body.get("dt"),
                     "speed": _speed(body.get("speed"))}
        for key in ("until", "dt"):
            v = overrides[key]
            if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int, float))):
                return self._error(request, 400, "invalid_manifest", "invalid option",
                                   [{"path": key, "message": f"not a valid {key}: {v!r}"}])

        def check() -> Any:
            from homesim.schemas.manifest import ManifestError

            try:
                return check_text(body["yaml"], overrides)[1]
            except ManifestError as exc:
                return exc

        def started(home: Any) -> bytes:
            from homesim.schemas.manifest import ManifestError

            if isinstance(home, ManifestError):
                return self._error(request, 400, "invalid_manifest",
                                   f"{len(home.errors)} error(s)", _errors(home))
            return self._json(request, 201, self.start(home).to_json())

        return self._later(request, deferToThread(check).addCallback(started))

    def _report(self, request: Any, rec: RunRecord) -> bytes:
        page = rec.out / "report.html"
        if rec.status != "finished" or not page.is_file():
            return self._error(request, 404, "not_found",
                               f"no report yet (the run is {rec.status})")
        self._headers(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return page.read_bytes()

    def _fork(self, request: Any, rec: RunRecord, fork_id: str) -> bytes:
        folder = rec.out / "forks" / fork_id
        if not FORK_ID.match(fork_id) or not folder.is_dir():
            return self._error(request, 404, "not_found", f"no fork {fork_id[:100]!r}")
        try:
            summary = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError):
            return self._json(request, 200, {"status": "running", "summary": None})
        ok = isinstance(summary, dict) and bool(summary.get("complete"))
        return self._json(request, 200, {"status": "finished" if ok else "failed",
                                         "summary": summary if isinstance(summary, dict)
                                         else None})

    # -------------------------------------------------- static
    def _static(self, request: Any, path: str) -> bytes:
        self._headers(request)
        if path == "/" and request.args.get(b"token"):
            given = request.args[b"token"][0]
            if hmac.compare_digest(given, self.token.encode()):
                request.addCookie(TOKEN_COOKIE.encode(), self.token.encode(), path=b"/",
                                  httpOnly=True, sameSite="strict")
        index = self.dist / "index.html"
        if not index.is_file():
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            return NOT_BUILT.encode()
        target = (self.dist / path.lstrip("/")).resolve()
        if not target.is_file() or self.dist.resolve() not in target.parents:
            if "." in path.rsplit("/", 1)[-1]:  # a missing file (e.g. a chunk of an older build)
                request.setResponseCode(404)
                request.setHeader(b"content-type", b"text/plain; charset=utf-8")
                return b"not found\n"
            target = index  # the single-page app's own routes
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype == "application/javascript":
            ctype += "; charset=utf-8"
        request.setHeader(b"content-type", ctype.encode())
        if target == index:
            request.setHeader(b"cache-control", b"no-cache")
        return target.read_bytes()

    # -------------------------------------------------- runs
    def start(self, home: Any) -> RunRecord:
        """Start ``home`` (checked, resolved) as ``homesim run`` does, in ``<runs>/<id>/``."""
        import yaml
        from twisted.internet import reactor

        name = home.metadata.name
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_id, n = f"{name}-{stamp}", 1
        while run_id in self.runs or (self.runs_dir / run_id).exists():
            n += 1
            run_id = f"{name}-{stamp}-{n}"
        out = self.runs_dir / run_id
        out.mkdir(parents=True)
        manifest = out / "input.yaml"
        manifest.write_text(yaml.safe_dump(home.model_dump(mode="json"), sort_keys=False))
        rec = RunRecord(id=run_id, name=name, out=out,
                        created=datetime.now(UTC).isoformat(timespec="seconds"))
        proto = _runner_protocol(rec)
        cmd = [sys.executable, "-m", "homesim.infra.serve_run", str(manifest), "--out", str(out)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOMESIM_TOKEN")}
        rec.process = reactor.spawnProcess(proto, sys.executable, cmd, env=env, path=str(out))
        rec.ended = proto.ended
        self.runs[run_id] = rec
        return rec

    def stop(self, rec: RunRecord) -> None:
        """Ask a run to stop (SIGTERM: the supervisor stops every process; the ledger keeps
        what was settled)."""
        if rec.process is not None and rec.status in ("starting", "running"):
            rec.stop_requested = True
            with contextlib.suppress(Exception):
                rec.process.signalProcess("TERM")

    def stop_all(self, grace: float = 20.0) -> Any:
        """Stop every run; a Deferred firing when they ended (SIGKILL after ``grace`` [s])."""
        from twisted.internet import defer, reactor

        waits = []
        for rec in self.runs.values():
            if rec.process is not None:
                proc = rec.process
                self.stop(rec)
                waits.append(rec.ended)

                def kill(proc: Any = proc) -> None:
                    with contextlib.suppress(Exception):
                        proc.signalProcess("KILL")

                call = reactor.callLater(grace, kill)
                rec.ended.addBoth(lambda r, c=call: c.cancel() if c.active() else None)
        return defer.DeferredList(waits)


def _resource(app: ServeApp) -> Any:
    from twisted.web import resource

    class Root(resource.Resource):
        isLeaf = True  # noqa: N815 - Twisted's name

        def render(self, request: Any) -> Any:
            return app.render(request)

    return Root()


def _site(root: Any) -> Any:
    from twisted.web import server

    class QuietSite(server.Site):
        """No access log: request URLs carry the token."""

        def log(self, request: Any) -> None:
            return None

    site = QuietSite(root)
    site.displayTracebacks = False
    return site


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    host: Annotated[str, typer.Option(
        help="Interface to listen on (loopback only unless --allow-remote)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="TCP port (0: any free port)")] = 8080,
    runs: Annotated[Path, typer.Option(
        help="Folder of the runs started from the page (one folder per run)")] = Path("runs"),
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Do not open a browser; just print the URL")] = False,
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="UNSAFE: allow a non-loopback --host (anyone who can reach "
                               "it and has the token can run homes on this machine)")]
    = False,
) -> None:
    r"""Serve the drag-and-drop web builder and its API; print the URL to open.

    [bold]Use[/bold]: [bold]homesim serve[/bold], then open the printed URL
    (http://127.0.0.1:8080/?token=...). Build a home from the palette (or start from an
    example), set sizes in the forms, press run, watch energy flow, change live properties,
    fork the running home with a what-if.

    [bold]Access[/bold]: a fresh token per start, in the URL (as Jupyter does); the page
    keeps it in an HttpOnly cookie. Scripts send [bold]Authorization: Bearer TOKEN[/bold]:
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/kinds

    [bold]Runs[/bold] are those of [bold]homesim run[/bold] (a Crossbar router, one process
    per device), in RUNS/<home>-<time>/; Ctrl-C stops the server and every run it started.

    [bold]Page[/bold]: web/dist (build it with: cd web && npm ci && npm run build). The API
    is documented in docs/web-api.md.
    """
    from rich.console import Console

    err = Console(stderr=True)
    if host not in LOOPBACK:
        if not allow_remote:
            err.print(f"[red]✗[/red] refusing to listen on {host!r}: not a loopback address "
                      "(give --allow-remote to accept it, knowing that anyone who reaches it "
                      "with the token can run homes here)")
            raise typer.Exit(2)
        err.print(f"[yellow]WARNING[/yellow]: listening on {host!r} (--allow-remote): the "
                  "token is the only protection, and HTTP is not encrypted")
    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    token = secrets.token_urlsafe(32)
    app = ServeApp(runs, token)
    try:
        listener = reactor.listenTCP(port, _site(_resource(app)), interface=host)
    except CannotListenError as exc:
        err.print(f"[red]✗[/red] cannot listen on {host}:{port}: {exc.socketError} "
                  "(another server? try --port 0 for any free port)")
        raise typer.Exit(2) from None
    real = listener.getHost().port
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{real}/?token={token}"
    print(f"homesim serve: open {url}", flush=True)
    if not WEB_DIST.joinpath("index.html").is_file():
        err.print("[yellow]the builder is not built[/yellow]: cd web && npm ci && npm run "
                  "build (the API works without it)")
    err.print(f"runs go to {app.runs_dir}; Ctrl-C stops the server and its runs")
    reactor.addSystemEventTrigger("before", "shutdown", app.stop_all)
    if not no_browser:
        import webbrowser

        reactor.callLater(0.2, lambda: webbrowser.open(url))
    # Twisted's handlers: SIGINT / SIGTERM stop the reactor (stop_all runs first), and SIGCHLD
    # reaps the runs' processes (without it an ended run can stay a zombie, never "ended").
    # Twisted installs its SIGINT handler only over Python's default one: a server started in
    # the background of a shell inherits SIGINT ignored, so Ctrl-C is made to stop it here.
    import signal

    def _interrupt(signum: int, frame: Any) -> None:
        def _stop() -> None:
            if reactor.running:
                with contextlib.suppress(Exception):
                    reactor.stop()
        reactor.callFromThread(_stop)

    signal.signal(signal.SIGINT, _interrupt)
    reactor.run()
