"""Pages of the distribution app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver

from huibao.distribution.web import agreements

app_name = "distribution"

urlpatterns: list[URLPattern | URLResolver] = [
    *agreements.urlpatterns,
]
