"""Admin: the agent registry (read-only audit fields) and sampled training history."""

from django.contrib import admin

from mlagents.models import AgentHistory, AgentModel


@admin.register(AgentModel)
class AgentModelAdmin(admin.ModelAdmin):
    list_display = (
        "algorithm", "version", "status", "sharpe_ratio", "test_sharpe_ratio", "train_start", "train_end",
        "validation_start", "validation_end", "test_start", "test_end", "progress", "created_at",
    )
    list_filter = ("algorithm", "status")
    search_fields = ("promotion_reason", "universe")
    readonly_fields = (  # status too: it changes only through the promotion gate
        "status", "algorithm", "version", "universe", "asset_classes", "hyperparameters", "env_config", "seed",
        "train_start", "train_end", "validation_start", "validation_end", "test_start", "test_end",
        "evaluation", "sharpe_ratio", "test_sharpe_ratio",
        "promotion_reason", "artifact", "progress", "training_seconds", "created_at",
        "activated_at", "retired_at",
    )
    ordering = ("-created_at",)


@admin.register(AgentHistory)
class AgentHistoryAdmin(admin.ModelAdmin):
    list_display = ("agent", "episode", "step", "reward", "created_at")
    list_filter = ("agent__algorithm",)
    search_fields = ("agent__algorithm",)
    readonly_fields = ("agent", "episode", "step", "state", "action", "reward", "next_state", "created_at")
    list_select_related = ("agent",)
