import io
import logging

import pytest

from huibao.core.masking import (
    MaskPersonalDataFilter,
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    scrub,
)

ID = "11010519491231002X"
PHONE = "13812345678"
CARD = "6222020200112233446"


def test_mask_functions():
    assert mask_id_number(ID) == "110***********002X"
    assert mask_phone(PHONE) == "138****5678"
    assert mask_bank_card("6222 0202 0011 2233 446") == "6222***********3446"
    assert mask_name("张三丰") == "张**"
    assert mask_phone("123") == "***"
    assert mask_id_number(None) == mask_phone("") == mask_bank_card(None) == mask_name(None) == ""
    assert mask_email("wang.xiaoming@example.com") == "w***@example.com"
    assert mask_email("a@b@example.com") == "a***@example.com"
    assert mask_email("no-at-sign") == "n*********"
    assert mask_email(None) == mask_email("") == ""


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"id {ID} ok", ID),
        (f"id {ID.lower()}", ID.lower()),
        (f"ID{ID}.", ID),
        (f"tel {PHONE}", PHONE),
        ("tel +8613812345678", "13812345678"),
        ("tel 138-1234-5678", "1234"),
        ("tel 138 1234 5678", "1234"),
        (f"card {CARD}", CARD),
        ("card 6222 0202 0011 2233 446", "0202 0011"),
        ("card 4111111111111111", "4111111111111111"),
        ("card 622202020011227", "622202020011227"),  # 15 digits, Luhn-valid
        ("mail wang.xiaoming@example.com", "wang.xiaoming"),
        ("<Li_Si+ins@mail.example.cn>", "Li_Si+ins"),
    ],
)
def test_scrub_removes_personal_numbers(text, secret):
    assert secret not in scrub(text)


def test_scrub_keeps_ordinary_numbers():
    text = "order 2024-01-01 12:00:00 took 1700000000001 ms, 42 items, amount 1234.56"
    assert scrub(text) == text


def test_scrub_masks_email_addresses_and_keeps_other_at_signs():
    assert scrub("sent to wang@example.com.") == "sent to w***@example.com."
    text = "GET /api/v1/x @ 12:00, user@localhost, v1.2@beta"
    assert scrub(text) == text


@pytest.fixture
def masked_logger():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPersonalDataFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("huibao.tests.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_log_filter_masks_message_and_args(masked_logger):
    # given
    logger, stream = masked_logger
    # when personal data arrives in the message, in %-args and in a dict arg
    logger.info(f"applicant {ID} phone {PHONE}")
    logger.warning("card %s for %s", CARD, PHONE)
    logger.error("payload %s", {"id_number": ID, "card": CARD})
    # then none of it reaches the log, but the masks do
    output = stream.getvalue()
    for secret in (ID, PHONE, CARD, "5678 ", "12345678"):
        assert secret not in output
    assert "110***********002X" in output
    assert "138****5678" in output
    assert "6222***********3446" in output
    assert output.count("\n") == 3


def test_log_filter_masks_tracebacks(masked_logger):
    # given
    logger, stream = masked_logger
    # when an exception message carries an ID number
    try:
        raise ValueError(f"bad insured {ID}")
    except ValueError:
        logger.exception("could not issue for %s", PHONE)
    # then
    output = stream.getvalue()
    assert "Traceback" in output
    assert ID not in output and PHONE not in output
    assert "bad insured 110***********002X" in output


def test_log_filter_keeps_records_with_broken_format(masked_logger):
    logger, stream = masked_logger
    logger.info("broken %s %s phone " + PHONE, "one")
    assert PHONE not in stream.getvalue()
    assert "138****5678" in stream.getvalue()


def test_settings_console_handler_masks(caplog):
    # given the project's configured console handler
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    record = logging.LogRecord("huibao", logging.INFO, __file__, 1, "phone %s", (PHONE,), None)
    # when
    for f in handler.filters:
        f.filter(record)  # type: ignore[union-attr]
    # then
    assert record.getMessage() == "phone 138****5678"
