"""The back office: Django's admin, behind a password *and* a verified TOTP device."""

from __future__ import annotations

from typing import Any

from django_otp.admin import OTPAdminSite

from huibao.account.admin_labels import label_admin_models


class HuibaoAdminSite(OTPAdminSite):
    site_header = "汇保管理后台"
    site_title = "汇保管理后台"
    index_title = "管理后台"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        # Each registered model's names and column headers in the user's language (admin_labels).
        super().register(model_or_iterable, admin_class, **options)
        models = model_or_iterable if isinstance(model_or_iterable, list | tuple) else [model_or_iterable]
        label_admin_models(models)
