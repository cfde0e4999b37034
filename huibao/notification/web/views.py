"""Customer pages under /account/messages/: the in-site inbox (unread count, mark read) and the
channel preferences. Thin: selectors and services do the work."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.notification import selectors, services
from huibao.notification.errors import MessageNotFound

PAGE_SIZE = 50


class PreferencesForm(forms.Form):
    email = forms.BooleanField(label=_("电子邮件通知"), required=False)
    sms = forms.BooleanField(label=_("短信通知"), required=False)
    marketing = forms.BooleanField(label=_("接收优惠活动等营销消息"), required=False)


@never_cache
@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    messages = list(selectors.inbox_for(request.user)[:PAGE_SIZE])
    return render(
        request,
        "notification/pages/inbox.html",
        {"messages_list": messages, "unread_count": selectors.unread_count(request.user)},
    )


@login_required
@require_POST
def read_one(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        message = services.mark_read(request.user, public_id)
    except MessageNotFound as exc:
        raise Http404(exc.message) from exc
    if request.headers.get("HX-Request"):
        return render(request, "notification/partials/message.html", {"m": message})
    return HttpResponseRedirect(reverse("notification:inbox") + f"#m-{message.public_id}")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    services.mark_all_read(request.user)
    return HttpResponseRedirect(reverse("notification:inbox"))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.set_preferences(request.user, request=request, **form.cleaned_data)
            saved = True
    else:
        prefs = selectors.preferences_of(request.user)
        form = PreferencesForm(initial={"email": prefs.email, "sms": prefs.sms, "marketing": prefs.marketing})
    return render(request, "notification/pages/preferences.html", {"form": form, "saved": saved})
