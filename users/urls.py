from django.urls import path

from users import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.LoginApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.RefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("users/me", apis.MeApi.as_view(), name="users-me"),
]
