"""The project's URLs with the floor mounted, as `huibao.urls` mounts it in bench mode."""

from django.urls import path

from huibao.benchmark.api import floor_api
from huibao.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("api/bench/", floor_api.urls), *project_urlpatterns]
