"""The admin login's lock-out backend (django-axes), tolerant of calls without a request.

Axes checks a lock-out per client IP and per username on every ``authenticate()`` call
that carries a request (the admin's login form; ``AXES_ONLY_ADMIN_SITE`` leaves the API
to its throttles). Calls without one (``Client.login`` in tests, a shell) have nothing
to lock out by, so they pass to the next backend instead of raising.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class AdminLockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
