from django.apps import AppConfig


class AutopilotConfig(AppConfig):
    """The rebalancing pipeline that ties the apps together, its scheduling and API."""

    name = "rebalancer.autopilot"
    label = "autopilot"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Autopilot"

    def ready(self) -> None:
        # One registration per strategy (portfolios.strategies contract); RL agents and
        # the hybrid register from mlagents the same way.
        from portfolios.selectors import explanation_renderer_register
        from portfolios.services.decisions import approval_check_register
        from rebalancer.autopilot.services import approval_kill_switch_check
        from rebalancer.autopilot.strategies import strategies_register

        strategies_register()
        # A halted kill switch also blocks investors' approvals of pending proposals.
        approval_check_register(approval_kill_switch_check)
        # Decisions' plain words for the investor, in the reader's language.
        from rebalancer.autopilot.wording import decision_text

        explanation_renderer_register(decision_text)
        # A broker account that disagrees with the ledger reaches its investor (and push).
        from portfolios.services.reconciliation import reconciliation_mismatch_register
        from rebalancer.autopilot.notifications import reconciliation_mismatch_notify

        reconciliation_mismatch_register(reconciliation_mismatch_notify)
