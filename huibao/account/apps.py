from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _setup_roles_after_migrate(
    sender: AppConfig, using: str = "default", verbosity: int = 1, **kwargs: Any
) -> None:
    """Give a freshly migrated database the role groups.

    post_migrate is sent once per app, in INSTALLED_APPS order, and each app's permissions are
    created by its own signal; this runs on the last app's signal so every permission exists.
    """
    from huibao.account.services import sync_roles

    app_configs = [a for a in apps.get_app_configs() if a.models_module is not None]
    if not app_configs or sender.label != app_configs[-1].label:
        return
    sync_roles(using=using)


class AccountConfig(AppConfig):
    name = "huibao.account"
    label = "account"
    verbose_name = "账户"

    def ready(self) -> None:
        from django.contrib import admin

        from huibao.account.admin_site import HuibaoAdminSite

        # The back office requires a verified TOTP device: turn the default admin site into an
        # OTP admin site (its name stays "admin", so `admin:` URLs keep working).
        admin.site.__class__ = HuibaoAdminSite
        from huibao.account.admin_labels import label_admin_models

        label_admin_models(list(admin.site._registry))  # any registered before the swap
        post_migrate.connect(_setup_roles_after_migrate, dispatch_uid="huibao.account.setup_roles")
        from django.db.models.signals import post_delete, post_save

        from huibao.account.models import User
        from huibao.account.usercache import on_user_changed

        # A user saved or deleted: its cached entry for the requests' `request.user` is dropped.
        post_save.connect(on_user_changed, sender=User, dispatch_uid="huibao.account.usercache.saved")
        post_delete.connect(on_user_changed, sender=User, dispatch_uid="huibao.account.usercache.deleted")
