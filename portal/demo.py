"""`make demo`: the portal, two RQ workers, the RQ cron scheduler and the emulators, with demo data.

Run as ``python -m portal.demo [--port 8000]``. It keeps all state under ``var/`` (SQLite database, embedded Redis
snapshot, emulator data, generated keys), prints the URL and the sign-in, and stops every process on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from portal import embedded_redis

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
EMULATOR_PORT = 8443


def _keys() -> dict[str, str]:
    """Demo SECRET_KEY and PORTAL_ENCRYPTION_KEY, generated on the first run and kept in var/demo-keys.json."""
    path = VAR / "demo-keys.json"
    if path.exists():
        return json.loads(path.read_text())
    keys = {"SECRET_KEY": secrets.token_urlsafe(50), "PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def _environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in _keys().items():
        env.setdefault(name, value)
    env.setdefault("DEBUG", "0")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("CSRF_TRUSTED_ORIGINS", f"http://127.0.0.1:{port},http://localhost:{port}")
    # The demo serves plain HTTP on loopback; production runs behind TLS with these left at their defaults.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"):
        env.setdefault(name, "0")
    # The emulators' own host and port only (a bare host would allow only port 443).
    env.setdefault("OUTBOUND_ALLOWED_HOSTS", f"127.0.0.1:{EMULATOR_PORT},localhost:{EMULATOR_PORT}")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6390/0")
    env["PYTHONUNBUFFERED"] = "1"
    return env


#: The settings `python manage.py ...` needs to run beside the demo (read by portal/settings.py from var/portal.env).
DEMO_SETTINGS = (
    "SECRET_KEY", "PORTAL_ENCRYPTION_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "OUTBOUND_ALLOWED_HOSTS",
    "OUTBOUND_CA_BUNDLE", "REDIS_URL",
)


def _write_env_file(env: dict[str, str]) -> None:
    """Write var/portal.env (owner-only) so management commands run beside the demo use its settings and keys."""
    path = VAR / "portal.env"
    path.write_text("# Written by make demo: settings for `python manage.py ...` beside the demo.\n"
                    + "".join(f"{name}={env[name]}\n" for name in DEMO_SETTINGS if env.get(name)))
    path.chmod(0o600)


def _start_emulators(env: dict[str, str], processes: list[subprocess.Popen[bytes]]) -> dict[str, str]:
    """Start `python -m emulators serve` with demo data; return its JSON line (also written to var/emulators.json)."""
    command = [
        sys.executable,
        "-m",
        "emulators",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(EMULATOR_PORT),
        "--data-dir",
        str(VAR / "emulators"),
        "--seed",
        "demo",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, start_new_session=True)
    processes.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"the emulators exited with code {process.wait()} before they were ready")
    info = json.loads(line)
    (VAR / "emulators.json").write_text(json.dumps(info) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    """Start everything, print the URL and sign-in, wait for Ctrl-C, then stop every child process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    VAR.mkdir(exist_ok=True)
    env = _environment(args.port)
    processes: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for process in reversed(processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        redis = embedded_redis.ensure(env["REDIS_URL"], data_dir=VAR / "redis")
        if redis is not None:
            processes.append(redis)
        info = _start_emulators(env, processes)
        env.setdefault("OUTBOUND_CA_BUNDLE", info["ca_bundle"])
        _write_env_file(env)

        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        created = subprocess.run([*manage, "demo_admin"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)

        restartable: dict[int, list[str]] = {}  # index in processes -> command (workers and the scheduler)

        def spawn(command: list[str], *, restart: bool = False) -> None:
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))
            if restart:
                restartable[len(processes) - 1] = command

        spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--log-level",
                "warning",
            ]
        )
        for _ in range(2):
            spawn([*manage, "rqworker", "default", "sync", "--with-scheduler"], restart=True)
        spawn([*manage, "run_cron"], restart=True)

        print("\n" + "=" * 72)
        print(f"  Portal:      http://127.0.0.1:{args.port}/")
        print(f"  Sign in:     {created.stdout.strip()}")
        print(f"  Health:      http://127.0.0.1:{args.port}/healthz")
        print(f"  Emulators:   {info['dataverse_url']} (details in var/emulators.json)")
        print("  Connect:     the assisted setup wizard, or")
        print(
            "               .venv/bin/python manage.py setup_connection --from-emulator var/emulators.json "
            "--import-solution --admin-app-from-emulator --enable"
        )
        print("  Stop:        Ctrl-C")
        print("=" * 72 + "\n", flush=True)
        while True:  # a supervisor: workers and the scheduler are restarted, anything else ends the demo
            time.sleep(0.5)
            exited = [i for i, process in enumerate(processes) if process.poll() is not None]
            if any(i not in restartable for i in exited):
                break
            for i in exited:
                print(f"restarting {' '.join(restartable[i][1:3])} (exited with code {processes[i].returncode})",
                      file=sys.stderr, flush=True)
                processes[i] = subprocess.Popen(restartable[i], cwd=ROOT, env=env, start_new_session=True)
        failed = next(process for i, process in enumerate(processes)
                      if process.poll() is not None and i not in restartable)
        print(
            f"a demo process exited ({failed.args[:3]}, code {failed.returncode}); stopping the demo", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("\nstopping the demo …", flush=True)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
