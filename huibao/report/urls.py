"""Pages of the report app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver

app_name = "report"

urlpatterns: list[URLPattern | URLResolver] = []
