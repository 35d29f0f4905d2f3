import datetime as dt

from django.core.management.base import CommandError

from dealgate.cli_support import DealgateCommand, fail
from dealgate.errors import DealgateError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--today {value!r} is not a date; use YYYY-MM-DD.") from None


class Command(DealgateCommand):
    help = (
        "Generate a believable demo company: users (password dealgate-demo), teams, pipelines, accounts, "
        "contacts and a year of deals whose history went through the stage gates. The same --deals, --seed "
        "and --today give the same data. Each run adds --deals new deals; users and pipelines are reused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--deals", type=int, default=2000, help="how many deals to add (default 2000)")
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
        parser.add_argument("--today", type=str, default=None,
                            help="the day the demo ends, YYYY-MM-DD (default: today); deals span the year before")

    def handle(self, *args, deals, seed, today, **options):
        from dealgate.demo.generator import generate

        if deals < 0:
            raise CommandError("--deals cannot be negative.")
        try:
            generate(deals=deals, seed=seed, today=_date(today) if today else None, stdout=self.stdout)
        except DealgateError as exc:
            raise fail(exc) from None
