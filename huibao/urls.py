from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from huibao.api import api
from huibao.core.site_files import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("account/", include("huibao.notification.web.urls")),  # /account/messages/
    path("account/", include("huibao.account.urls")),
    path("payment/", include("huibao.payment.urls")),
    path("", include("huibao.sandbox.urls")),  # the sandboxes' hosted pages (development parts)
    path("identity/", include("huibao.identity.urls")),
    path("policy/", include("huibao.policy.urls")),
    path("renewal/", include("huibao.renewal.urls")),
    path("claims/", include("huibao.claim.urls")),
    path("fraud/", include("huibao.fraud.urls")),
    path("provider/", include("huibao.provider.urls")),
    path("distribution/", include("huibao.distribution.urls")),
    path("finance/", include("huibao.finance.urls")),
    path("reports/", include("huibao.report.urls")),
    path("partners/", include("huibao.partner.urls")),
    path("webhooks/", include("huibao.webhook.urls")),
    path("apply/", include("huibao.application.web.urls")),
    path("", include("huibao.catalog.web.urls")),
]

if settings.HUIBAO_BENCH_FLOOR:
    from huibao.benchmark.api import floor_api

    urlpatterns.insert(0, path("api/bench/", floor_api.urls))

# Under /api/ the API's one error shape, elsewhere a Chinese page.
handler400 = "huibao.core.error_views.bad_request"
handler403 = "huibao.core.error_views.permission_denied"
handler404 = "huibao.core.error_views.page_not_found"
handler500 = "huibao.core.error_views.server_error"
