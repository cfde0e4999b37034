"""Pages of the finance app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver

from huibao.finance.web import commission

app_name = "finance"

urlpatterns: list[URLPattern | URLResolver] = []
urlpatterns += commission.urlpatterns  # commission area
