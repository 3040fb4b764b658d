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


from axes.handlers.cache import AxesCacheHandler  # noqa: E402


class AdminOnlyAxesHandler(AxesCacheHandler):
    """Axes' counters in the cache (Redis: one atomic counter per key, no racing
    ``get_or_create`` of attempt rows), recording only the admin site's logins.

    axes 8 checks ``AXES_ONLY_ADMIN_SITE`` when deciding a lock-out but still records
    every failed ``authenticate()`` — the API's logins too, where concurrent failures
    raced into ``MultipleObjectsReturned`` (a 500) with the database handler. The API's
    logins are the DRF throttles' (``auth_login*``).
    """

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender, request, user, **kwargs):
        if request is None or not self.is_admin_request(request):
            return None
        return super().user_logged_out(sender, request, user, **kwargs)
