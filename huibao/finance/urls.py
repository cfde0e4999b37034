"""Pages of the finance app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver

app_name = "finance"

urlpatterns: list[URLPattern | URLResolver] = []
