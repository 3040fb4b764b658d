"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
