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
        # issue 16: the VaR methods of risk/var, and the wider set the backtests accept
        "VarMethodEnum": "risk.measures.var.VAR_METHODS",
        "VarBacktestMethodEnum": "risk.measures.var_models.BACKTEST_METHODS",
    },
    # A nullable enum is `allOf: [XEnum]` with `nullable: true`, not `oneOf: [XEnum, NullEnum]`:
    # Dart generators turn the latter into a type they never define (issue 17).
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "common.schema.postprocess_anonymous_operations",
        "common.schema.postprocess_etag_headers",
        "common.schema.postprocess_cached_read_headers",
    ],
    # No global SECURITY: each operation declares its own (jwtAuth from the authentication
    # classes; none on the anonymous ones), so generated clients log in without a token.
}
