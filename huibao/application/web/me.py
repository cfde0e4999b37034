"""The customer's applications still to finish, on the 我的 page (`account.me`): each one tap
from there to where it goes on; all of them on 我的投保单."""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huibao.account.me import MeLink, MeSection
from huibao.application.selectors import applications_of
from huibao.application.states import OPEN_STATUSES, ApplicationStatus


def _local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%m-%d %H:%M")


def my_applications(user: Any) -> MeSection:
    open_ones = [a for a in applications_of(user) if a.status in OPEN_STATUSES]
    links = tuple(
        MeLink(
            label=_("投保单 %(number)s") % {"number": app.number},
            url=reverse("application:detail", args=[app.public_id]),
            detail=_("请在 %(time)s 前完成")
            % {"time": timezone.localtime(app.expires_at).strftime("%m-%d %H:%M")},
            status=str(ApplicationStatus(app.status).label),
        )
        for app in open_ones
    )
    return MeSection(
        key="applications",
        title=_("我的投保单"),
        order=20,
        links=links,
        more_url=reverse("application:mine"),
        more_label=_("全部投保单"),
        empty_text=_("没有待完成的投保单"),
    )
