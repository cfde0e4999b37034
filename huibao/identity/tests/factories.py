"""Identity test data: people known to the sandbox, face checks and signed notifications."""

from __future__ import annotations

import datetime
import json
import secrets
from urllib.parse import urlparse

from django.test import Client
from django.utils import timezone

from huibao.identity import services
from huibao.identity.models import FaceCheck
from huibao.sandbox import identity as sandbox
from huibao.sandbox import notifications

NAME = "张三"
ID_NUMBER = "110105199003071239"
OTHER_NAME = "李四"
OTHER_ID = "110105198511204566"
NO_RECORD_ID = "110105199003079994"  # sequence code 999: unknown to the sandbox registry
BAD_CHECKSUM_ID = "110105199003071230"
MINORITY_NAME = "阿卜杜拉·买买提"
X_ID = "44030419880815234X"
RETURN_URL = "/application/A1/face/done/"
KIND = "test_application"


def face_check(
    *, name: str = NAME, id_number: str = ID_NUMBER, kind: str = KIND, ref: str = "A1"
) -> FaceCheck:
    return services.start_face_check(
        name=name,
        id_number=id_number,
        reference_kind=kind,
        reference_id=ref,
        return_url=RETURN_URL,
    )


def session_token(check: FaceCheck) -> str:
    """The sandbox session token: the last path segment of the hosted page's URL."""
    return urlparse(check.session_url).path.rstrip("/").rsplit("/", 1)[-1]


def notification(
    check: FaceCheck,
    *,
    result: str = "passed",
    reason: str = "",
    notify_id: str | None = None,
    now: datetime.datetime | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as the sandbox face service signs them."""
    notify_id = notify_id or "F" + secrets.token_hex(16)
    body = json.dumps(
        {
            "notify_id": notify_id,
            "session_id": session_token(check),
            "merchant_ref": str(check.public_id),
            "result": result,
            "reason": reason,
            "liveness_score": 98,
            "similarity": 95 if result == "passed" else 30,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    return sandbox.signed_headers(notify_id, body, now or timezone.now()), body


def client_transport(client: Client) -> notifications.HttpPost:
    """Delivers the sandbox's notifications through Django's test client instead of the network."""

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.generic(
            "POST",
            urlparse(url).path,
            body,
            content_type="application/json",
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
        return response.status_code, response.content.decode()

    return post
