"""The back office: Django's admin, behind a password *and* a verified TOTP device."""

from __future__ import annotations

from django_otp.admin import OTPAdminSite


class HuibaoAdminSite(OTPAdminSite):
    site_header = "汇保管理后台"
    site_title = "汇保管理后台"
    index_title = "管理后台"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
