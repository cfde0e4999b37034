"""Providers, their log-ins and tasks for the provider tests."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.catalog.models import Insurer
from huibao.distribution.services import ensure_demo_agreement
from huibao.provider.models import ProviderUser, ServiceProvider, ServiceTask
from huibao.provider.rules import TaskSubject
from huibao.provider.services import assign_task

_seq = itertools.count(1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def provider(
    name: str | None = None,
    *,
    kind: str = "assessor",
    capabilities: tuple[str, ...] = ("survey", "assessment"),
    regions: tuple[str, ...] = ("44",),
    status: str = "active",
    excluded: tuple[Insurer, ...] = (),
) -> ServiceProvider:
    n = next(_seq)
    p = ServiceProvider.objects.create(
        code=f"p{n}",
        name=name or f"服务商{n:03d}",
        kind=kind,
        capabilities=sorted(capabilities),
        regions=list(regions),
        licence_number=f"LIC{n:05d}",
        contact_name="张三",
        contact_phone="13800000000",
        status=status,
    )
    if excluded:
        p.excluded_insurers.set(excluded)
    return p


def insurer(code: str = "pingan") -> Insurer:
    found, _ = Insurer.objects.get_or_create(
        code=code, defaults={"name": f"{code}保险", "short_name": code, "kind": "property"}
    )
    ensure_demo_agreement(found)  # its products sell
    return found


def staff(role: str, *, username: str | None = None) -> User:
    user = User.objects.create_user(
        username=username or f"staff{next(_seq)}", password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def provider_user(of: ServiceProvider) -> User:
    user = staff("provider")
    ProviderUser.objects.create(user=user, provider=of)
    return user


def login(client: Client, user: User) -> Client:
    """A verified (password + TOTP) staff session."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def subject(reference: str = "CLM-0001", region: str = "440305", insurer: str = "") -> TaskSubject:
    return TaskSubject("claim", reference, region, "车辆追尾，需现场查勘", insurer)


def task(
    to: ServiceProvider, *, kind: str = "survey", reference: str | None = None, **kwargs: Any
) -> ServiceTask:
    return assign_task(subject(reference or f"CLM-{next(_seq):04d}"), kind, to, **kwargs)


def upload(
    name: str = "report.pdf", content: bytes = PDF, content_type: str = "application/pdf"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
