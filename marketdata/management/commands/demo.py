"""``python manage.py demo``: load the demo world, step by step, idempotently.

Step 1 (this app): the synthetic market — 26 assets across every asset class, ``--years``
of business days. Then every installed app that has a ``<app>/demo.py`` with a function
``demo_load(*, stdout)`` gets its turn, in INSTALLED_APPS order (the demo investor and
portfolios, trained default agents, ...). Each step must be idempotent.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from marketdata.services import demo_market_load


def demo_steps() -> list[tuple[str, object]]:
    """(app label, demo_load function) of every installed app that has one, in app order."""
    steps = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.demo":
                raise
            continue
        loader = getattr(module, "demo_load", None)
        if callable(loader):
            steps.append((config.label, loader))
    return steps


PUBLISHED_DEMO_PASSWORDS = {"demo-investor-pass-2026", "demo-operator-pass-2026"}
"""The defaults in ``rebalancer/settings/base.py`` and the README: anyone can log in with them."""


def demo_production_guard(*, allow_production: bool) -> None:
    """Refuse to load demo accounts into a production database.

    Under production settings (``IS_PRODUCTION``) the command needs ``--allow-production``
    and demo passwords that are set and not the published defaults; otherwise it stops
    before writing anything.
    """
    if not getattr(settings, "IS_PRODUCTION", False):
        return
    if not allow_production:
        raise CommandError(
            "demo refuses to run with production settings (DJANGO_ENV=production): it creates "
            "accounts, one of them a superuser. Use a development database, or pass "
            "--allow-production for a staging copy with DEMO_INVESTOR_PASSWORD and "
            "DEMO_OPERATOR_PASSWORD set."
        )
    passwords = {settings.DEMO_INVESTOR_PASSWORD, settings.DEMO_OPERATOR_PASSWORD}
    if passwords & PUBLISHED_DEMO_PASSWORDS or any(len(p) < 12 for p in passwords):
        raise CommandError(
            "demo --allow-production needs DEMO_INVESTOR_PASSWORD and DEMO_OPERATOR_PASSWORD set to "
            "passwords of 12+ characters, not the published defaults."
        )


class Command(BaseCommand):
    help = "Load the demo world (synthetic market, then each app's demo step). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7, help="Seed of the synthetic market.")
        parser.add_argument("--years", type=int, default=12, help="Years of daily history to load.")
        parser.add_argument("--market-only", action="store_true", help="Load only the market data.")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run under DJANGO_ENV=production anyway (a staging copy); needs DEMO_INVESTOR_PASSWORD "
            "and DEMO_OPERATOR_PASSWORD set to non-default values.",
        )

    def handle(self, *args, seed: int, years: int, market_only: bool, allow_production: bool = False, **options):
        demo_production_guard(allow_production=allow_production)
        self.stdout.write(f"[marketdata] synthetic market (seed {seed}, {years} years)...")
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="bar", desc="writing", file=self.stderr._out, leave=False)
            bar.update(done - bar.n)

        try:
            result = demo_market_load(seed=seed, years=years, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            f"[marketdata] {result.start} to {result.end}: {result.assets_created} assets created, "
            f"{result.inserted} bars inserted, {result.updated} updated, {result.unchanged} unchanged"
        )
        if not market_only:
            for label, loader in demo_steps():
                self.stdout.write(f"[{label}] demo step...")
                loader(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo world ready."))
