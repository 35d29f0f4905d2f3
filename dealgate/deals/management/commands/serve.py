"""`dealgate serve`: set the database up, then run the production server and the worker beside it.

The web server is gunicorn (threaded workers, DEBUG off, static files collected with hashed names
and gzip copies that whitenoise serves with year-long cache headers); `--dev` is Django's
development server with reload and DEBUG. Both start `dealgate worker` as a child process that
stops with the server. Why gunicorn and these defaults: docs/decisions/021-production-server.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand
from dealgate.env import envint
from dealgate.web.server import BoundedRunserver

DEMO_PASSWORD = "dealgate-demo"
ADDRPORT = re.compile(r"^(?:(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):)?(?P<port>\d{1,5})$")
STOP_GRACE_SECONDS = 25
# gunicorn's usual line plus the request id Dealgate's log lines carry (dealgate.request_ids) and the time taken.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'


def default_web_workers() -> int:
    """Gunicorn's rule of thumb (2 x cores + 1), capped so a big machine does not exhaust PostgreSQL."""
    return envint("DEALGATE_WEB_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8), minimum=1)


def default_web_threads() -> int:
    return envint("DEALGATE_WEB_THREADS", 4, minimum=1)


class Command(DealgateCommand):
    help = (
        "Start Dealgate: apply migrations, load demo data into an empty database, print the demo "
        "login and serve the app with the production server (default http://127.0.0.1:8000) and "
        "the background worker beside it. --dev serves with Django's development server instead."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000",
                            help="[address:]port to listen on (default 127.0.0.1:8000)")
        parser.add_argument("--dev", action="store_true",
                            help="Django's development server: reloads on code changes, DEBUG on, one process")
        parser.add_argument("--workers", type=int, default=None,
                            help="web server processes (default $DEALGATE_WEB_WORKERS or 2 x cores + 1, at most 8)")
        parser.add_argument("--threads", type=int, default=None,
                            help="threads per web process (default $DEALGATE_WEB_THREADS or 4)")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start `dealgate worker` beside the server (when workers run elsewhere)")
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data into an empty database")
        parser.add_argument("--demo-deals", type=int, default=1500, help="how many demo deals (default 1500)")
        parser.add_argument("--seed", type=int, default=7, help="demo data seed (default 7)")

    def handle(self, *args: Any, addrport: str, dev: bool, workers: int | None, threads: int | None,
               no_worker: bool, no_demo: bool, demo_deals: int, seed: int, **options: Any) -> None:
        host, port = parse_addrport(addrport)
        if dev and os.environ.get("RUN_MAIN") == "true":  # the development server's reloaded child
            call_command(BoundedRunserver(), f"{host}:{port}", use_reloader=True)
            return
        workers = positive("--workers", workers if workers is not None else default_web_workers())
        threads = positive("--threads", threads if threads is not None else default_web_threads())
        self.prepare_database(no_demo=no_demo, demo_deals=demo_deals, seed=seed)
        self.print_logins()
        if dev:
            self.serve_dev(host, port, with_worker=not no_worker)
        else:
            self.serve_production(host, port, workers=workers, threads=threads, with_worker=not no_worker)

    def prepare_database(self, *, no_demo: bool, demo_deals: int, seed: int) -> None:
        from dealgate.deals.models import Deal
        from dealgate.pipelines.models import Pipeline

        self.stdout.write("Applying database migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo and not Pipeline.objects.exists() and not Deal.objects.exists():
            from dealgate.demo.generator import generate

            self.stdout.write(f"Empty database: generating {demo_deals} demo deals (seed {seed})...")
            generate(deals=demo_deals, seed=seed, stdout=self.stdout)

    def print_logins(self) -> None:
        """Show one demo login per role, if the demo password still works (each check costs a hash)."""
        users = get_user_model().objects.filter(is_active=True).order_by("id")
        for role in ("rep", "manager", "admin"):
            user = users.filter(profile__role=role).first()
            if user is not None and user.check_password(DEMO_PASSWORD):
                self.stdout.write(f"Demo login ({role}): username {user.username}  password {DEMO_PASSWORD}")

    def serve_dev(self, host: str, port: str, *, with_worker: bool) -> None:
        """runserver with its reloader; the reloaded child inherits DEBUG from the environment."""
        from django.db import connections

        os.environ["DEALGATE_DEBUG"] = "1"
        connections.close_all()  # the reloader's children open their own
        worker = start_worker(os.environ.copy()) if with_worker else None
        self.stdout.write(f"Dealgate (development server) is at http://{host}:{port}/  (Ctrl+C stops it)")
        try:
            call_command(BoundedRunserver(), f"{host}:{port}", use_reloader=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop_processes([worker] if worker else [])

    def serve_production(self, host: str, port: str, *, workers: int, threads: int, with_worker: bool) -> None:
        from django.db import connections

        connections.close_all()  # this process only supervises from here on
        env = production_environment()
        self.collect_static(env)
        processes = {"web server": start_gunicorn(host, port, workers=workers, threads=threads, env=env)}
        if with_worker:
            processes["worker"] = start_worker(env)
        beside = " and the worker beside it" if with_worker else ""
        self.stdout.write(f"Dealgate is at http://{host}:{port}/  ({workers} web processes x {threads} threads"
                          f"{beside}; Ctrl+C stops {'both' if with_worker else 'it'})")
        code = supervise(processes, self.stderr)
        if code:
            raise CommandError("", returncode=code)


    def collect_static(self, env: dict[str, str]) -> None:
        """Hashed, gzip copies in STATIC_ROOT, made again only when a static file changed."""
        from django.conf import settings

        stamp = Path(settings.STATIC_ROOT) / ".dealgate-collected"
        fingerprint = static_fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        self.stdout.write("Collecting static files (compressed, with hashed names; once per change)...")
        collected = subprocess.run(dealgate_command("collectstatic", "--noinput", "--clear", "--verbosity", "0"), env=env)
        if collected.returncode != 0:
            raise CommandError("Collecting the static files failed (see the message above); the server did not start.")
        stamp.write_text(fingerprint)


def static_fingerprint() -> str:
    """A digest of every static file's name, size and modification time, as the finders see them."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns=[]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def parse_addrport(addrport: str) -> tuple[str, str]:
    match = ADDRPORT.match(addrport.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise CommandError(f"{addrport!r} is not an address to listen on; give a port (8000) or address:port "
                           "(127.0.0.1:8000, 0.0.0.0:8000).")
    return match["host"] or "127.0.0.1", match["port"]


def positive(option: str, value: int) -> int:
    if value < 1:
        raise CommandError(f"{option} must be at least 1 (got {value}).")
    return value


def production_environment() -> dict[str, str]:
    """The server's and worker's environment: DEBUG off and static files from the collected manifest."""
    return dict(os.environ, DEALGATE_DEBUG="0", DEALGATE_STATIC_MANIFEST="1",
                DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "dealgate.settings"))


def dealgate_command(*args: str) -> list[str]:
    """The same `dealgate` console command, run by this Python (so the same venv and PYTHONPATH)."""
    return [sys.executable, "-m", "dealgate.cli", *args]


def stop_with_parent() -> None:
    """In a child, before exec: ask Linux to send SIGTERM when `dealgate serve` dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_child(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, preexec_fn=stop_with_parent)


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return start_child(dealgate_command("worker"), env)


def start_gunicorn(host: str, port: str, *, workers: int, threads: int, env: dict[str, str]) -> subprocess.Popen:
    """gunicorn with threaded workers: at most workers x threads requests (and database connections) at once."""
    return start_child(gunicorn_command(host, port, workers=workers, threads=threads), env)


def gunicorn_command(host: str, port: str, *, workers: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "dealgate.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", str(STOP_GRACE_SECONDS - 5),
        "--max-requests", "5000", "--max-requests-jitter", "500",  # recycle a process now and then
        "--access-logfile", "-", "--error-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
        "--no-control-socket",  # several servers on one machine must not share gunicorn's control socket
    ]


def supervise(processes: dict[str, subprocess.Popen], stderr: Any) -> int:
    """Wait until Ctrl+C or SIGTERM (exit 0) or until a child stops on its own (its exit code); stop all."""
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        while True:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    stderr.write(f"The {name} stopped (exit code {code}); stopping Dealgate.")
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop_processes(list(processes.values()))
        signal.signal(signal.SIGTERM, previous)


def raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM (both gunicorn and the worker finish what they are doing), then SIGKILL after a grace period."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
