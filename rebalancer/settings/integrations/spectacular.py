"""drf-spectacular: the OpenAPI 3 contract the mobile app generates its client from."""

SPECTACULAR_SETTINGS = {
    "TITLE": "Autopilot Portfolio Rebalancer API",
    "DESCRIPTION": (
        "Versioned REST API for the mobile app. Authenticate with `POST /api/v1/auth/token` "
        "and send `Authorization: Bearer <access>`. Every error has one shape: "
        '`{"type": "validation_error"|"client_error"|"server_error", "errors": '
        '[{"code": str, "detail": str, "attr": str|null}]}`; `attr` names the offending field.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # One name for the risk tiers wherever they appear (profile, autonomy settings...).
        "RiskTierEnum": "users.models.RiskTier",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "MarketRegimeEnum": "mlagents.regime.models.Regime.choices",
        "BacktestStatusEnum": "rebalancer.backtests.models.BacktestStatus.choices",
        "OrderStatusEnum": "portfolios.broker_models.OrderStatus.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
    "SECURITY": [{"jwtAuth": []}],
}
