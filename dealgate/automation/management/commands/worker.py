"""`dealgate worker`: run the background jobs of the database task queue (rules, emails, webhooks)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.core.management.base import CommandError
from django.conf import settings
from django.db import connection, connections
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker

from dealgate.analytics.warm import warm_forecasts
from dealgate.automation.scans import run_scans, send_weekly_reviews
from dealgate.cli_support import DealgateCommand

logger = logging.getLogger(__name__)


class Command(DealgateCommand):
    help = (
        "Run background jobs: automation rules, their emails and webhooks, and the periodic scans (idle deals, "
        "passed close dates, overdue tasks, the weekly review for managers) and, between scans, the day's past "
        "forecasts for the forecast page. Runs until stopped (Ctrl+C); with "
        "--batch, runs the scans once and "
        "every job due, and exits when nothing is left (for cron and tests)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="run everything due, then exit")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds to wait when the queue is empty (default 1)")
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
        parser.add_argument("--worker-id", default="", help="a name unique among running workers (default: random)")
        parser.add_argument("--scan-every", type=float, default=300.0,
                            help="seconds between periodic scans when running continuously (default 300)")
        parser.add_argument("--requeue-after", type=float, default=900.0,
                            help="seconds after which a job still marked running (its worker was killed) is run "
                                 "again (default 900); safe, as every rule run is claimed once per occurrence")
        parser.add_argument("--no-scans", action="store_true", help="run queued jobs only, no periodic scans")
        parser.add_argument("--now", type=dt.datetime.fromisoformat, default=None,
                            help="the scans' clock, ISO date-time (default: now; for tests and catching up)")

    def handle(self, *args, batch, interval, max_jobs, worker_id, verbosity, scan_every, no_scans, now, requeue_after,
               **options):
        if interval < 0 or (max_jobs is not None and max_jobs < 1) or scan_every <= 0:
            raise CommandError("--interval must be at least 0, --max-jobs at least 1 and --scan-every above 0.")
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=dt.timezone.utc)
        if settings.TASK_BACKEND == "rq":
            self.run_rq(batch=batch, max_jobs=max_jobs, worker_id=worker_id, scan_every=scan_every,
                        no_scans=no_scans, now=now, verbosity=verbosity)
            return
        if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
            raise CommandError("DEALGATE_TASK_BACKEND is not 'database': jobs run as they are queued, so there is "
                               "no queue for a worker. Unset it (or set it to 'database') to use the worker.")
        if verbosity > 1:
            logging.getLogger("django_tasks_db").setLevel(logging.INFO)
        requeued = requeue_abandoned(dt.timedelta(seconds=requeue_after))
        if requeued:
            self.stdout.write(f"Requeued {requeued} job(s) a stopped worker left running.")
        self.start_scans(batch=batch, no_scans=no_scans, now=now, verbosity=verbosity)
        worker = Worker(queue_names=["*"], interval=interval, batch=batch, backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                        startup_delay=False, max_tasks=max_jobs, worker_id=worker_id or get_random_string(32),
                        excluded_queue_names=[])
        if not batch:
            # Ctrl+C / SIGTERM: finish the job in hand, then stop (a second Ctrl+C stops at once).
            worker.configure_signals()
            self.start_scans_thread(scan_every=scan_every, no_scans=no_scans)
        worker.run()

    def start_scans(self, *, batch: bool, no_scans: bool, now: dt.datetime | None, verbosity: int) -> None:
        """With --batch, the scans run once here, before the jobs (they may queue some)."""
        if batch and not no_scans:
            acted, reviews = run_scans(now), send_weekly_reviews(now)
            if verbosity > 1:
                self.stdout.write(f"Scans: {acted} rule run(s), {reviews} weekly review(s) sent.")

    def start_scans_thread(self, *, scan_every: float, no_scans: bool) -> None:
        if not no_scans:
            threading.Thread(target=_scan_forever, args=(scan_every,), daemon=True, name="scans").start()
        self.stdout.write("Dealgate worker running (Ctrl+C stops it).")

    def run_rq(self, *, batch: bool, max_jobs: int | None, worker_id: str, scan_every: float, no_scans: bool,
               now: dt.datetime | None, verbosity: int) -> None:
        """RQ's worker on the Redis queue (DEALGATE_TASK_BACKEND=rq): each job in a forked child, as RQ
        does; SIGTERM lets the job in hand finish. A job whose worker was killed goes to RQ's failed
        jobs once its timeout passes (docs/operations.md says how to requeue them: safe, since rule
        runs are claimed once per occurrence)."""
        import django_rq
        from django_tasks_rq import Job
        from redis.exceptions import RedisError

        self.start_scans(batch=batch, no_scans=no_scans, now=now, verbosity=verbosity)
        connections.close_all()  # the forked job processes open their own
        try:
            worker = django_rq.get_worker("default", job_class=Job, name=worker_id or None)
            if not batch:
                self.start_scans_thread(scan_every=scan_every, no_scans=no_scans)
            worker.work(burst=batch, max_jobs=max_jobs, logging_level="INFO" if verbosity > 1 else "WARNING")
        except RedisError as exc:
            raise CommandError(f"Redis at DEALGATE_REDIS_URL does not answer ({exc}); the worker stopped.") from None


def requeue_abandoned(older_than: dt.timedelta) -> int:
    """Jobs marked running since before `older_than` belong to a worker that died: queue them again.

    Rule jobs are idempotent (each rule run is claimed once per occurrence, and the claim commits
    with the run's writes), so running one again finishes what the dead worker left and repeats nothing.
    """
    from django.utils import timezone
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING,
                                       started_at__lt=timezone.now() - older_than).update(
        status=TaskResultStatus.READY, started_at=None)


def _scan_forever(every: float) -> None:
    """Beside the job loop: the periodic scans, then the day's past forecasts where they are missing
    (dealgate.analytics.warm: once a day, a few lookups otherwise), on their own database connection."""
    stop = threading.Event()
    while not stop.is_set():
        try:
            run_scans()
            send_weekly_reviews()
            warm_forecasts()
        except Exception:  # a failed scan is logged and tried again next time
            logger.exception("Periodic scan failed")
        finally:
            connection.close()
        stop.wait(every)
