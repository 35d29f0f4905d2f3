import subprocess
import sys

from django.contrib.auth import get_user_model
from django.core.management import call_command

from dealgate.cli_support import DealgateCommand

DEMO_PASSWORD = "dealgate-demo"


class Command(DealgateCommand):
    help = (
        "Start Dealgate: apply migrations, load demo data into an empty database, print the demo "
        "login and serve the app (default http://127.0.0.1:8000)."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="address:port to listen on")
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data into an empty database")
        parser.add_argument("--demo-deals", type=int, default=1500, help="how many demo deals (default 1500)")
        parser.add_argument("--seed", type=int, default=7, help="demo data seed (default 7)")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start the background worker (automation rules) beside the server")

    def handle(self, *args, addrport, no_demo, demo_deals, seed, no_worker, **options):
        from dealgate.deals.models import Deal
        from dealgate.pipelines.models import Pipeline

        self.stdout.write("Applying database migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo and not Pipeline.objects.exists() and not Deal.objects.exists():
            from dealgate.demo.generator import generate

            self.stdout.write(f"Empty database: generating {demo_deals} demo deals (seed {seed})...")
            generate(deals=demo_deals, seed=seed, stdout=self.stdout)
        self.print_logins()
        worker = None if no_worker else self.start_worker()
        self.stdout.write(f"Dealgate is at http://{addrport}/  (Ctrl+C stops it)")
        try:
            from dealgate.web.server import BoundedRunserver

            call_command(BoundedRunserver(), addrport, use_reloader=False, skip_checks=False)
        finally:
            if worker is not None:
                worker.terminate()  # SIGTERM: the worker finishes the job in hand, then stops
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def start_worker(self) -> "subprocess.Popen | None":
        """`dealgate worker` in a child process, so rules run out of the box; it stops with the server."""
        from django.conf import settings

        if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
            return None  # the immediate backend runs jobs as they are queued
        self.stdout.write("Starting the background worker (automation rules)...")
        return subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker"], stdout=subprocess.DEVNULL)

    def print_logins(self):
        """Show one demo login per role, if the demo password still works (each check costs a hash)."""
        users = get_user_model().objects.filter(is_active=True).order_by("id")
        for role in ("rep", "manager", "admin"):
            user = users.filter(profile__role=role).first()
            if user is not None and user.check_password(DEMO_PASSWORD):
                self.stdout.write(f"Demo login ({role}): username {user.username}  password {DEMO_PASSWORD}")
