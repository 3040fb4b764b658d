"""python manage.py broker_stream --portfolio ID — record one account's trade updates as they arrive.

Alpaca pushes every order event (new, partial_fill, fill, canceled, expired, rejected...)
on its ``trade_updates`` websocket; each goes through the same service as polling
(``portfolios.services.orders.trade_update_apply``), so running both never records a fill
twice. Polling (beat) stays on as the safety net for events missed while disconnected.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from portfolios.models import BrokerAccount


class Command(BaseCommand):
    help = "Stream one broker account's trade updates into the ledger (until interrupted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, required=True, help="The portfolio whose account to stream.")

    def handle(self, *args, **options) -> None:
        from portfolios.brokers.alpaca import (
            stream_url_for,
            trade_update_translate,
            trade_updates_run,
        )
        from portfolios.services.broker_accounts import broker_account_keys, broker_account_url
        from portfolios.services.orders import trade_update_apply

        account = BrokerAccount.objects.filter(portfolio_id=options["portfolio"]).first()
        if account is None:
            self.stderr.write(f"portfolio {options['portfolio']} has no broker account")
            sys.exit(2)
        api_key, secret_key = broker_account_keys(account=account)
        url = settings.ALPACA_STREAM_URL or stream_url_for(broker_account_url(account=account))

        def handle_update(update) -> None:
            snapshot, fill = trade_update_translate(update)
            order = trade_update_apply(snapshot=snapshot, fill=fill)
            if order is not None:
                self.stdout.write(f"{update.event}: {order}")

        self.stdout.write(f"streaming trade updates of portfolio #{account.portfolio_id} from {url}")
        trade_updates_run(api_key=api_key, secret_key=secret_key, url=url, handler=handle_update)
