#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys


def main() -> None:
    default = (
        "rebalancer.settings.production"
        if os.environ.get("DJANGO_ENV") == "production"
        else "rebalancer.settings.dev"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
