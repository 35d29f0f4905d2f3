"""`dealgate worker`: run the background jobs of the database task queue (rules, emails)."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker


class Command(BaseCommand):
    help = (
        "Run background jobs: automation rules and their emails. Runs until stopped (Ctrl+C); with "
        "--batch, runs everything due and exits when nothing is left (for cron and tests)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="run everything due, then exit")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds to wait when the queue is empty (default 1)")
        parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
        parser.add_argument("--worker-id", default="", help="a name unique among running workers (default: random)")

    def handle(self, *args, batch, interval, max_jobs, worker_id, verbosity, **options):
        if interval < 0 or (max_jobs is not None and max_jobs < 1):
            raise CommandError("--interval must be at least 0 and --max-jobs at least 1.")
        if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
            raise CommandError("The task backend is not the database queue (DEALGATE_TASK_BACKEND=database); "
                               "jobs already run as they are queued, there is nothing for a worker to do.")
        if verbosity > 1:
            logging.getLogger("django_tasks_db").setLevel(logging.INFO)
        worker = Worker(queue_names=["*"], interval=interval, batch=batch, backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                        startup_delay=False, max_tasks=max_jobs, worker_id=worker_id or get_random_string(32),
                        excluded_queue_names=[])
        if not batch:
            # Ctrl+C / SIGTERM: finish the job in hand, then stop (a second Ctrl+C stops at once).
            worker.configure_signals()
            self.stdout.write("Dealgate worker running (Ctrl+C stops it).")
        worker.run()
