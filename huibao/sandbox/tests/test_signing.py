"""The one signature of the sandboxes' notifications (pure: no database)."""

from huibao.sandbox import signing


def test_signature_binds_timestamp_notify_id_body_and_secret() -> None:
    sig = signing.sign(b"k", "1700000000", "N1", b"{}")
    assert signing.signature_valid(b"k", "1700000000", "N1", b"{}", sig)
    assert not signing.signature_valid(b"k", "1700000001", "N1", b"{}", sig)
    assert not signing.signature_valid(b"k", "1700000000", "N2", b"{}", sig)
    assert not signing.signature_valid(b"k", "1700000000", "N1", b"{ }", sig)
    assert not signing.signature_valid(b"other", "1700000000", "N1", b"{}", sig)
    assert not signing.signature_valid(b"k", "1700000000", "N1", b"{}", "")


def test_the_signed_bytes_are_timestamp_id_and_body_on_lines() -> None:
    assert signing.signing_payload("1700000000", "N1", b'{"a":1}') == b'1700000000\nN1\n{"a":1}'
