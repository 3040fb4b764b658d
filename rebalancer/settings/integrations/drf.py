"""Django REST framework: JWT auth, one error shape, pagination, scoped throttles."""

from rebalancer.settings.base import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "common.api.Pagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [],
    # Scoped throttles on the auth endpoints; rates are settings so operators can tune them.
    "DEFAULT_THROTTLE_RATES": {
        "auth_register": env("THROTTLE_REGISTER", default="10/hour"),
        "auth_login": env("THROTTLE_LOGIN", default="20/minute"),
        "auth_refresh": env("THROTTLE_REFRESH", default="60/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "common.api.Handler",
    "EXCEPTION_FORMATTER_CLASS": "common.api.ErrorFormatter",
    # Every status maps to one generic error component, so the app parses all errors the
    # same way and a service's own error code never contradicts an enum in the schema.
    # 409, 422 and 503 are added per operation with ``common.api.error_responses``.
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "415", "429", "500"],
    "ERROR_SCHEMAS": {
        code: "common.api.ErrorResponseSerializer"
        for code in ["400", "401", "403", "404", "405", "406", "415", "429", "500"]
    },
}

# Edits of portfolios, targets and autonomy settings without If-Match: allowed (False) or
# 428 (True). The ETag check itself always applies when the header is sent.
API_REQUIRE_IF_MATCH = env.bool("API_REQUIRE_IF_MATCH", default=False)

# The hot reads (portfolios, holdings, transactions, risk, notifications, market data):
# ETag/304 and a body cache keyed on the ledger version and the market-data revision
# (common.read_cache). Off (API_READ_CACHE=0): computed on every request, no ETag.
API_READ_CACHE = env.bool("API_READ_CACHE", default=True)
