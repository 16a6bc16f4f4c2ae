"""``python -m emulators serve`` - start Entra ID, Dataverse and Business Central emulators on one HTTPS port.

Prints exactly one JSON line on stdout when ready (keys: see :meth:`emulators.app.EmulatorApp.info`);
diagnostics go to stderr.  Stops on SIGTERM/SIGINT after writing its state to ``--data-dir``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .app import EmulatorApp
from .certs import ensure_tls, server_context
from .httpcore import EmulatorHTTPServer, Request, Response
from .limits import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emulators", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="start the emulators")
    s.add_argument("--host", default="127.0.0.1", help="bind address (loopback only; default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8443, help="TCP port; 0 picks a free one (default 8443)")
    s.add_argument("--data-dir", required=True, type=Path, help="directory for certificates, secrets and state")
    s.add_argument("--seed", choices=("demo", "none"), default="demo", help="seed data set (default demo)")
    s.add_argument("--scale", type=int, default=0, help="add N generated BC items, customers and price list lines")
    s.add_argument("--bc-extension", choices=("installed", "absent"), default="installed",
                   help="whether the BC tenant has the companion extension (absent: its custom API answers 404)")
    s.add_argument("--environment", default="production", help="BC environment name (default production)")
    s.add_argument("--latency-ms", type=float, default=0.0, help="added latency per API request (ms)")
    s.add_argument("--rate-429", type=float, default=0.0, help="share of API requests answered 429 (0..1)")
    s.add_argument("--rate-5xx", type=float, default=0.0, help="share of API requests answered 500/503 (0..1)")
    s.add_argument("--drop-rate", type=float, default=0.0, help="share of API requests whose connection is dropped")
    s.add_argument("--token-lifetime", type=int, default=3599, help="expires_in of issued tokens (s)")
    s.add_argument("--token-max-age", type=float, default=None,
                   help="APIs reject tokens older than this many seconds (early expiry fault)")
    s.add_argument("--no-limits", action="store_true", help="disable service protection limits")
    s.add_argument("--no-enforce-privileges", action="store_true",
                   help="let users without any security role call the Dataverse Web API (off = enforced)")
    s.add_argument("--dv-requests-per-window", type=int, default=6000)
    s.add_argument("--dv-window-seconds", type=float, default=300.0)
    s.add_argument("--dv-concurrent", type=int, default=52)
    s.add_argument("--bc-requests-per-window", type=int, default=6000)
    s.add_argument("--bc-window-seconds", type=float, default=300.0)
    s.add_argument("--bc-concurrent", type=int, default=5)
    s.add_argument("--fault-seed", type=int, default=None, help="seed of the fault random generator")
    s.add_argument("--ca-dir", type=Path, default=None,
                   help="directory of the shared test CA (default $EMULATORS_CA_DIR or ~/.cache/bcportal-emulators)")
    s.add_argument("--realm-443", action="store_true",
                   help="also answer msal's user-realm discovery on port 443 (opt-in; see README)")
    s.add_argument("--no-realm-443", action="store_true",
                   help="accepted for compatibility: port 443 is off unless --realm-443 is given")
    return p


def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("emulators: refusing to bind to a non-loopback address", file=sys.stderr)
        return 2
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    tls = ensure_tls(data_dir, args.ca_dir)
    settings = Settings(latency_ms=args.latency_ms, rate_429=args.rate_429, rate_5xx=args.rate_5xx,
                        drop_rate=args.drop_rate, token_lifetime=args.token_lifetime,
                        token_max_age=args.token_max_age, limits_enabled=not args.no_limits,
                        enforce_privileges=not args.no_enforce_privileges,
                        dv_requests_per_window=args.dv_requests_per_window, dv_window_seconds=args.dv_window_seconds,
                        dv_concurrent=args.dv_concurrent, bc_requests_per_window=args.bc_requests_per_window,
                        bc_window_seconds=args.bc_window_seconds, bc_concurrent=args.bc_concurrent,
                        fault_seed=args.fault_seed)
    app = EmulatorApp(data_dir, tls, seed=args.seed, scale=args.scale, settings=settings,
                      environment=args.environment, bc_extension=args.bc_extension == "installed")
    server = EmulatorHTTPServer(args.host, args.port, app, server_context(tls))
    host = "[::1]" if args.host == "::1" else args.host
    origin = f"https://{host}:{server.port}"
    server.origin = origin
    app.set_origin(origin)
    wants_realm = args.realm_443 and not args.no_realm_443 and server.port != 443
    realm_server = _realm_listener(args, app, tls) if wants_realm else None
    stop = threading.Event()
    persister = threading.Thread(target=app.persist_loop, args=(stop,), daemon=True)
    persister.start()

    def _stop(signum: int, frame: object) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
        if realm_server is not None:
            threading.Thread(target=realm_server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    info = app.info()
    info["user_realm_on_443"] = realm_server is not None
    (data_dir / "emulators.json").write_text(json.dumps(info) + "\n")
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        app.persist(force=True)
    return 0


def _realm_listener(args: argparse.Namespace, app: EmulatorApp, tls: object) -> EmulatorHTTPServer | None:
    """msal's ROPC user-realm discovery calls ``https://<host>/common/userrealm/...`` WITHOUT the
    authority's port (msal ``Authority.user_realm_discovery`` uses the bare hostname), i.e. port 443.
    Answer that one endpoint on ``<host>:443`` when the port can be bound; other paths get 404."""

    def realm_only(req: Request) -> Response:
        route = app.entra.endpoint(req)
        if route is not None and route[0] == "user_realm":
            resp = app.entra.handle(req)
            if resp is not None:
                return resp
        return Response(404, b"", [("Content-Type", "text/plain")])

    try:
        realm = EmulatorHTTPServer(args.host, 443, realm_only, server_context(tls))  # type: ignore[arg-type]
    except OSError as exc:
        print(f"emulators: port 443 not available for msal user-realm discovery ({exc}); the username/password "
              "grant then needs a msal http_client that keeps the port (see README)", file=sys.stderr)
        return None
    realm.serve_in_thread()
    return realm


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
