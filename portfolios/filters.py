"""django-filter FilterSets of the read side: the transactions list.

One :class:`TransactionFilter` filters both halves of the ledger list — cash movements
and trades — with the same query parameters (``kind`` repeatable, ``start``/``end``
dates, ``symbol``); each filter method maps the parameter onto the model it is given.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from portfolios.models import CashMovement, Trade

TRANSACTION_KINDS = [*CashMovement.Kind.values, *Trade.Side.values]


class TransactionForm(forms.Form):
    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "end is before start")
        return data


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=[(k, k) for k in TRANSACTION_KINDS], method="filter_kind")
    start = django_filters.DateFilter(method="filter_start")
    end = django_filters.DateFilter(method="filter_end")
    symbol = django_filters.CharFilter(method="filter_symbol", max_length=32)

    class Meta:
        form = TransactionForm
        fields: list[str] = []

    @staticmethod
    def _is_trade(queryset: QuerySet) -> bool:
        return queryset.model is Trade

    def filter_kind(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(**{"side__in" if self._is_trade(queryset) else "kind__in": value})

    def filter_start(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(**{"trade_date__gte" if self._is_trade(queryset) else "at__date__gte": value})

    def filter_end(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(**{"trade_date__lte" if self._is_trade(queryset) else "at__date__lte": value})

    def filter_symbol(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return queryset
        if self._is_trade(queryset):
            return queryset.filter(asset__symbol__iexact=value)
        return queryset.none()  # cash movements have no symbol
