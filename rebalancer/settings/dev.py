"""Local development and the demo: the embedded default (SQLite, in-process tasks)."""

from rebalancer.settings.base import *  # noqa: F403
from rebalancer.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [  # noqa: F405
    "rest_framework.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
]
