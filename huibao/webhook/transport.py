"""Posting one webhook: `urllib.request` (a runtime dependency-free client), short timeouts, no
redirects followed (a 3xx is an answer like any other non-2xx: the partner's URL is wrong).

Tests swap nothing here: they post to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from huibao.webhook import rules

# Bytes read of a partner's answer: what is kept is an excerpt anyway.
READ_MAX = 4096


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int
    body: str


class TransportError(Exception):
    """No HTTP answer: refused, reset, timed out, bad URL. The message holds no secret."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _text(raw: bytes) -> str:
    return rules.excerpt(raw.decode("utf-8", errors="replace"))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    if not url.startswith(("https://", "http://")):
        raise TransportError("connection: scheme")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only)
    try:
        with _opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, _text(answer.read(READ_MAX)))
    except urllib.error.HTTPError as exc:
        try:
            raw = exc.read(READ_MAX)
        except Exception:  # the body of an error answer is best effort
            raw = b""
        finally:
            exc.close()
        return Response(exc.code, _text(raw))
    except TimeoutError:
        raise TransportError("timeout") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise TransportError("timeout") from None
        raise TransportError(f"connection: {type(reason).__name__}") from None
    except (OSError, ValueError) as exc:
        raise TransportError(f"connection: {type(exc).__name__}") from None
