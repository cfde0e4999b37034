import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
application = get_wsgi_application()

# A server process builds the search index (and loads jieba's dictionary) at start, beside its first
# requests, so the first visitor does not wait for it (`HUIBAO_WARM_SEARCH_AT_START`, on by default).
from django.conf import settings  # noqa: E402

if getattr(settings, "HUIBAO_WARM_SEARCH_AT_START", True):
    from huibao.catalog.search import warm_index_in_background

    warm_index_in_background()
