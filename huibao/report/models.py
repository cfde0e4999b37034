"""Reports read the other apps' records and keep no table of their own: `SalesReport` is an
unmanaged model only so that the permission to read the whole agency's figures exists (finance,
operators and auditors hold it; agents and channel staff see their own subtree without it)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesReport(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_sales_report", "Can view the sales reports of the whole agency")]
        verbose_name = _("销售报表")
        verbose_name_plural = _("销售报表")

    def __str__(self) -> str:
        return "sales report"
