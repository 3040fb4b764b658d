from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from users.models import Device, InvestorProfile, User


class InvestorProfileInline(admin.StackedInline):
    model = InvestorProfile
    can_delete = False
    readonly_fields = ("risk_score", "risk_tier", "assessed_at", "created_at", "updated_at")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("-date_joined",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff", "email_verified", "date_joined", "last_login", "deleted_at")
    list_filter = ("is_active", "is_staff", "is_superuser", "email_verified", "profile__risk_tier", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("date_joined", "last_login", "updated_at", "deleted_at")
    inlines = [InvestorProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("first_name", "last_name", "email_verified", "pending_email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Audit", {"fields": ("date_joined", "last_login", "updated_at", "deleted_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(InvestorProfile)
class InvestorProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "risk_tier", "risk_score", "investment_horizon", "age_band", "assessed_at")
    list_filter = ("risk_tier", "age_band", "experience", "loss_reaction")
    search_fields = ("user__email",)
    readonly_fields = ("risk_score", "risk_tier", "assessed_at", "created_at", "updated_at")
    list_select_related = ("user",)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "provider", "platform", "app_version", "name", "last_seen_at", "created_at")
    list_filter = ("provider", "platform")
    search_fields = ("user__email", "name", "app_version")
    readonly_fields = ("created_at", "last_seen_at")
    raw_id_fields = ("user",)
    list_select_related = ("user",)
