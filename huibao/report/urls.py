"""Pages of the report app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver, include, path

from huibao.report.web import sales

app_name = "report"

urlpatterns: list[URLPattern | URLResolver] = [
    # Sales reports, the back-office home and the agents' own pages.
    path("", include(sales.urlpatterns)),
]
