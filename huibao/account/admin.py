from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from huibao.account.models import User


@admin.register(User)
class HuibaoUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "kind", "masked_phone", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active", "groups")
    search_fields = ("username", "display_name")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("汇保", {"fields": ("kind", "display_name")}),
    )
    readonly_fields = ("last_login", "date_joined")
