from django.urls import path

from users import apis, apis_account, apis_devices

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", apis.LoginApi.as_view(), name="auth-token"),
    path("auth/token/refresh", apis.RefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password/change", apis_account.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset", apis_account.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm", apis_account.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/email/verify", apis_account.EmailVerifyApi.as_view(), name="auth-email-verify"),
    path("auth/email/verify/resend", apis_account.EmailVerifyResendApi.as_view(), name="auth-email-verify-resend"),
    path("users/me", apis.MeApi.as_view(), name="users-me"),
    path("users/me/export", apis_account.MeExportApi.as_view(), name="users-me-export"),
    path("devices", apis_devices.DeviceListApi.as_view(), name="devices"),
    path("devices/<int:id>", apis_devices.DeviceDetailApi.as_view(), name="device-detail"),
]
