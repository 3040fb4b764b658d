"""The agent registry: trained models with their evaluation, and sampled training history."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Algorithm(models.TextChoices):
    PPO = "ppo", "PPO"
    PRIMAL_DUAL = "primal_dual", "Primal-dual constrained"
    DQN = "dqn", "Double DQN"


class AgentStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class AgentModel(models.Model):
    """One trained agent: what it was trained on, how it did on the validation window
    (which selected and gated it) and on the later test window (only reported), whether it
    serves the autopilot, and why (``promotion_reason``, stored either way)."""

    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    version = models.PositiveIntegerField(help_text="1, 2, ... per algorithm.")
    status = models.CharField(max_length=16, choices=AgentStatus.choices, default=AgentStatus.CANDIDATE)
    universe = models.JSONField(default=list, help_text="Symbols, in the order of the model's inputs.")
    asset_classes = models.JSONField(default=list, blank=True, help_text="Asset class per symbol.")
    hyperparameters = models.JSONField(default=dict, blank=True)
    env_config = models.JSONField(default=dict, blank=True, help_text="Environment: window, costs, reward coefficients.")
    seed = models.IntegerField(default=0)
    train_start = models.DateField(null=True, blank=True)
    train_end = models.DateField(null=True, blank=True)
    validation_start = models.DateField(
        null=True, blank=True, help_text="First day of the validation window (model selection and the gate)."
    )
    validation_end = models.DateField(null=True, blank=True)
    test_start = models.DateField(
        null=True, blank=True, help_text="First day of the test window (reported; never read by selection or the gate)."
    )
    test_end = models.DateField(null=True, blank=True)
    evaluation = models.JSONField(
        default=dict, blank=True,
        help_text="{'validation': {'agent', 'baselines', 'success', 'start', 'end'}, 'test': {the same}, "
        "'selection': {the snapshots' validation scores}, 'training': {last statistics}}.",
    )
    sharpe_ratio = models.FloatField(
        null=True, blank=True,
        help_text="Validation Sharpe ratio (annualised): the number the promotion gate compared.",
    )
    test_sharpe_ratio = models.FloatField(
        null=True, blank=True, help_text="Test-window Sharpe ratio (annualised): reported, not used by the gate."
    )
    promotion_reason = models.TextField(blank=True)
    artifact = models.FileField(upload_to="agents/", blank=True, help_text="torch checkpoint (weights, optimizer, configs).")
    progress = models.FloatField(default=0.0, help_text="Training progress, 0..1.")
    training_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["algorithm", "version"], name="mlagents_agent_algo_version"),
            models.UniqueConstraint(
                fields=["algorithm"], condition=Q(status="active"), name="mlagents_one_active_per_algo"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0.0) & Q(progress__lte=1.0), name="mlagents_agent_progress_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} v{self.version} ({self.status})"


class AgentHistory(models.Model):
    """Sampled transitions of an agent (brief 001's ``rl_agent_history``)."""

    agent = models.ForeignKey(AgentModel, on_delete=models.CASCADE, related_name="history")
    episode = models.BigIntegerField()
    step = models.PositiveIntegerField()
    state = models.JSONField()
    action = models.JSONField()
    reward = models.FloatField()
    next_state = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rl_agent_history"
        ordering = ["agent", "episode", "step"]
        indexes = [
            models.Index(fields=["agent", "episode"], name="rl_agent_episode"),
            models.Index(fields=["created_at"], name="rl_agent_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} episode {self.episode} step {self.step}"
