"""Every link in a notification or digest email is absolute: DEALGATE_BASE_URL, else the development
server's http://127.0.0.1:8000; in production without DEALGATE_BASE_URL the email names the deal and
carries no link (a path would lead nowhere from a mail client), and `dealgate check` warns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from dealgate.automation.services import set_email_kinds
from dealgate.deals import services as deal_services

pytestmark = pytest.mark.django_db(transaction=True)  # the real worker runs the rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def carol_by_email(world):
    world.carol.email = "carol@example.com"
    world.carol.save(update_fields=["email"])
    set_email_kinds(by=world.carol, kinds=["assigned"])
    return world.carol


def _assigned_email(world, make_deal, make_rule, run_worker, mailoutbox):
    make_rule(trigger="deal_assigned", actions=[
        {"type": "notify", "to": "owner", "kind": "assigned", "title": "{deal} is yours now"}])
    deal = make_deal(owner=world.alice, title="Acme roll-out")
    deal_services.reassign_deal(deal, world.carol, by=world.dave)
    run_worker()
    (mail,) = mailoutbox
    return deal, mail.body


def test_the_assignment_email_links_to_the_deal_at_the_base_url(world, carol_by_email, make_deal, make_rule,
                                                                 run_worker, mailoutbox, settings):
    """Base URL https://crm.example.com, deal N: the body has "https://crm.example.com/deals/N/"."""
    settings.DEALGATE_BASE_URL = "https://crm.example.com"
    deal, body = _assigned_email(world, make_deal, make_rule, run_worker, mailoutbox)
    assert f"Deal: Acme roll-out\nhttps://crm.example.com/deals/{deal.pk}/" in body
    assert f" /deals/{deal.pk}/" not in body and f"(/deals/{deal.pk}/)" not in body  # no bare path left


def test_without_a_base_url_a_development_email_links_to_the_local_server(world, carol_by_email, make_deal,
                                                                          make_rule, run_worker, mailoutbox, settings):
    settings.DEALGATE_BASE_URL, settings.PRODUCTION = "", False
    deal, body = _assigned_email(world, make_deal, make_rule, run_worker, mailoutbox)
    assert f"http://127.0.0.1:8000/deals/{deal.pk}/" in body


def test_without_a_base_url_a_production_email_names_the_deal_without_a_broken_link(
        world, carol_by_email, make_deal, make_rule, run_worker, mailoutbox, settings):
    settings.DEALGATE_BASE_URL, settings.PRODUCTION = "", True
    deal, body = _assigned_email(world, make_deal, make_rule, run_worker, mailoutbox)
    assert "Deal: Acme roll-out" in body
    assert "/deals/" not in body and "127.0.0.1" not in body


def test_a_task_email_links_to_its_deal(world, make_deal, mailoutbox, settings):
    """A task bob gives alice (emailed: she chose "task") links to the deal at the base URL."""
    from dealgate.automation.services import create_task

    settings.DEALGATE_BASE_URL = "https://crm.example.com"
    world.alice.email = "alice@example.com"
    world.alice.save(update_fields=["email"])
    set_email_kinds(by=world.alice, kinds=["task"])
    deal = make_deal(owner=world.alice, title="Acme")
    create_task(by=world.bob, title="Call the CFO", due="2026-12-10", deal=deal, assignee=world.alice)
    (mail,) = mailoutbox
    assert f"https://crm.example.com/deals/{deal.pk}/" in mail.body


def test_the_weekly_digest_links_to_the_review_page_at_the_base_url(world, mailoutbox, settings):
    settings.DEALGATE_BASE_URL = "https://crm.example.com"
    world.bob.email = "bob@example.com"
    world.bob.save(update_fields=["email"])
    set_email_kinds(by=world.bob, kinds=["review"])
    call_command("worker", "--batch", "--interval", "0", "--now", "2026-11-30T08:00:00+00:00")  # week 49: review of 48
    (mail,) = mailoutbox
    assert "Open: https://crm.example.com/insights/review/?week=2026-W48" in mail.body


def _check(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    for name in ("DATABASE_URL", "DEALGATE_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEALGATE_BASE_URL"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run([sys.executable, "-m", "dealgate.cli", "check", *args], env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=False)
def test_the_checks_warn_when_the_base_url_is_unset(tmp_path):
    production = {"DEALGATE_PRODUCTION": "1", "SECRET_KEY": "k3y-" + "x7Qp2vLm9" * 6, "DEALGATE_DATA_DIR": str(tmp_path)}
    warned = _check("--deploy", **production)
    assert "dealgate.automation.W001" in warned.stdout + warned.stderr
    assert (warned.stdout + warned.stderr).count("DEALGATE_BASE_URL is not set") == 1  # said once, not twice
    assert "name the deal without a link" in warned.stdout + warned.stderr
    plain = _check(**production)  # production settings warn on the everyday check too
    assert "dealgate.automation.W001" in plain.stdout + plain.stderr
    development = _check(DEALGATE_DATA_DIR=str(tmp_path))
    assert "W001" not in development.stdout + development.stderr  # a laptop is not told off
    fine = _check("--deploy", "--fail-level", "WARNING", DEALGATE_BASE_URL="https://crm.example.com", **production)
    assert fine.returncode == 0 and "W001" not in fine.stdout + fine.stderr, fine.stdout + fine.stderr
