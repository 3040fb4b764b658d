"""Forms of the console's actions: input checked here, then one service call each."""

from __future__ import annotations

from django import forms

from mlagents.models import Algorithm
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.ops.services.audit import REASON_MAX

MAX_PORTFOLIOS = 10_000


class ReasonField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        super().__init__(
            max_length=REASON_MAX, strip=True, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
            help_text="Why — recorded in the audit trail.", **kwargs,
        )


class KillSwitchForm(forms.Form):
    mode = forms.ChoiceField(choices=KillSwitch.Mode.choices)
    reason = ReasonField()


class AutonomyForm(forms.Form):
    portfolio_ids = forms.CharField(max_length=200_000, help_text="Portfolio ids, separated by commas or spaces.")
    action = forms.ChoiceField(choices=[("pause", "pause autonomy"), ("resume", "resume autonomy")])
    reason = ReasonField()

    def clean_portfolio_ids(self) -> list[int]:
        raw = self.cleaned_data["portfolio_ids"].replace(",", " ").split()
        try:
            ids = [int(x) for x in raw]
        except ValueError:
            raise forms.ValidationError("portfolio ids are whole numbers, e.g. 12, 15, 31") from None
        if not ids or any(i < 1 for i in ids):
            raise forms.ValidationError("give at least one portfolio id (positive numbers)")
        if len(ids) > MAX_PORTFOLIOS:
            raise forms.ValidationError(f"at most {MAX_PORTFOLIOS} portfolios at once")
        return list(dict.fromkeys(ids))


class CyclesRetryForm(forms.Form):
    as_of = forms.DateField(help_text="The cycle's as-of date (YYYY-MM-DD).")
    statuses = forms.MultipleChoiceField(
        choices=[(CycleRun.Status.FAILED, "failed"), (CycleRun.Status.PENDING, "pending")],
        widget=forms.CheckboxSelectMultiple, initial=[CycleRun.Status.FAILED, CycleRun.Status.PENDING],
    )
    reason = ReasonField()


class ProposalForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve (executes its trades)"), ("reject", "reject")])
    reason = ReasonField()


class AgentPromoteForm(forms.Form):
    reason = ReasonField()


class AgentRollbackForm(forms.Form):
    algorithm = forms.ChoiceField(choices=Algorithm.choices)
    reason = ReasonField()
