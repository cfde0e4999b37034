import pytest
from django.test import RequestFactory, override_settings

from huibao.core.http import client_ip


def request(remote="10.0.0.2", xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_remote_addr_by_default_and_forwarded_header_ignored():
    # given no trusted proxy, a client that forges X-Forwarded-For
    # when / then
    assert client_ip(request("198.51.100.9", xff="1.2.3.4")) == "198.51.100.9"


@pytest.mark.parametrize(
    ("count", "xff", "expected"),
    [
        (1, "1.2.3.4, 198.51.100.9", "198.51.100.9"),  # left part forged by the client
        (2, "1.2.3.4, 198.51.100.9, 10.0.0.5", "198.51.100.9"),
        (2, "198.51.100.9", "10.0.0.2"),  # fewer hops than proxies: fall back to REMOTE_ADDR
        (1, "not-an-ip", "10.0.0.2"),
        (1, "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ],
)
def test_trusted_proxies_read_from_the_right(count, xff, expected):
    with override_settings(HUIBAO_TRUSTED_PROXY_COUNT=count):
        assert client_ip(request(xff=xff)) == expected


def test_missing_or_invalid_remote_addr():
    assert client_ip(request(remote="")) is None
    assert client_ip(request(remote="garbage")) is None
