"""Pages of the finance app (each area adds its own include here)."""

from django.urls import URLPattern, URLResolver

from huibao.finance.web import commission, reconciliation
from huibao.finance.web import ledger as ledger_pages
from huibao.finance.web import settlement as settlement_pages

app_name = "finance"

urlpatterns: list[URLPattern | URLResolver] = []
urlpatterns += ledger_pages.urlpatterns  # the ledger: trial balance, statements, transactions, ageing
urlpatterns += settlement_pages.urlpatterns  # settlement statements (/finance/statements/)
urlpatterns += reconciliation.urlpatterns  # reconciliation (对账)
urlpatterns += commission.urlpatterns  # commission area
