from __future__ import annotations

import pytest

from labelloop.compliance.pii import (
    AddressRecognizer,
    BankCardRecognizer,
    ChineseNerRecognizer,
    CnResidentIdRecognizer,
    Finding,
    NetworkRecognizer,
    PassportRecognizer,
    PhoneRecognizer,
    PiiDetector,
    PlateRecognizer,
    Recognizer,
    is_valid_cn_id,
    resolve_overlaps,
)


def spans(rec: Recognizer, text: str) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in resolve_overlaps(rec.find(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证号11010519491231002X。", ["11010519491231002X"]),
        ("id: 11010519491231002x, ok", ["11010519491231002x"]),
        ("身份证号110105194912310021。", []),  # wrong check character
        ("110105194902301005", []),  # 30 February
        ("990105194912310029", []),  # no province 99
        ("A11010519491231002X", []),  # glued to a letter
        ("11010519491231002X1", []),  # 19 characters
    ],
)
def test_cn_resident_id(text: str, expected: list[str]) -> None:
    assert [v for _, v in spans(CnResidentIdRecognizer(), text)] == expected


def test_cn_id_future_birth_date_rejected() -> None:
    import datetime as dt

    assert not is_valid_cn_id("11010519491231002X", today=dt.date(1949, 12, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("卡号4111111111111111。", ["4111111111111111"]),
        ("card 4111 1111 1111 1111 ok", ["4111 1111 1111 1111"]),
        ("card 4111-1111-1111-1111", ["4111-1111-1111-1111"]),
        ("amex 3782 822463 10005", ["3782 822463 10005"]),
        ("银联6212260200106542318", []),  # 19 digits, Luhn fails
        ("card 4111111111111112", []),  # Luhn fails
        ("card 4111 1111-1111 1111", []),  # mixed separators
        ("card 411111111111", []),  # 12 digits, Luhn-valid but not a Maestro prefix
        ("0000000000000000", []),  # one repeated digit
        # Maestro: 12 digits, bare or grouped 4-4-4, Luhn-valid, prefix 50 or 56-69
        ("Card number 502009281598 was declined.", ["502009281598"]),
        ("卡号：676363606077", ["676363606077"]),
        ("card 5020 0928 1598 ok", ["5020 0928 1598"]),
        ("card 6304-6717-2312", ["6304-6717-2312"]),
        ("maestro 6759 6498 2643 8453", ["6759 6498 2643 8453"]),
        ("Charge 060401841568 please", ["060401841568"]),  # legacy UK Maestro range 0604
        ("order 060512345673 shipped", []),  # Luhn-valid, 06 but not 0604
        ("card 502009281599", []),  # 12 digits, Luhn fails
        ("card 5020 0928-1598", []),  # mixed separators
        ("order 202403150007 shipped", []),  # Luhn-valid order number, no card prefix
        ("invoice 2024-0315-0007", []),  # Luhn-valid invoice id, no card prefix
        ("ref 50200928159", []),  # 11 digits
        ("date 2024-03-15 12:00", []),
    ],
)
def test_bank_card(text: str, expected: list[str]) -> None:
    assert [v for _, v in spans(BankCardRecognizer(), text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的手机是13812345678，谢谢", ["13812345678"]),
        ("call +86 138-1234-5678 now", ["+86 138-1234-5678"]),
        ("电话：010-62345678", ["010-62345678"]),
        ("(0755)22345678", ["(0755)22345678"]),
        ("Phone (565)408-8995x790.", ["(565)408-8995x790"]),
        ("call 001-238-883-6859 now", ["001-238-883-6859"]),
        ("ticket 12812345678", []),  # no 12x mobile prefix
        ("138123456789", []),  # 12 digits
        ("order 0101234567", []),  # bare landline without separator
        # North American formats, with extensions
        ("call (555) 123-4567 x890 now", ["(555) 123-4567 x890"]),
        ("call +1-555-123-4567x12 now", ["+1-555-123-4567x12"]),
        ("call 555.123.4567 now", ["555.123.4567"]),
        ("call 001-555-123-4567 now", ["001-555-123-4567"]),
        ("call +1 (555) 123-4567 now", ["+1 (555) 123-4567"]),
        ("call 1-800-555-1234 now", ["1-800-555-1234"]),
        ("call 555 123 4567 ext. 42 now", ["555 123 4567 ext. 42"]),
        # Chinese numbers with +86, 0086, (+86) and separators
        ("手机+86 138 1234 5678。", ["+86 138 1234 5678"]),
        ("手机(+86)138-1234-5678", ["(+86)138-1234-5678"]),
        ("手机(+86) 13812345678", ["(+86) 13812345678"]),
        ("手机0086-13812345678", ["0086-13812345678"]),
        ("电话+86-10-62345678", ["+86-10-62345678"]),
        ("电话+86 (10) 6234 5678", ["+86 (10) 6234 5678"]),
        ("电话(+86)755-22345678", ["(+86)755-22345678"]),
        ("电话0755 2234 5678", ["0755 2234 5678"]),
        ("电话010-62345678-123", ["010-62345678-123"]),
        # Bare ten-digit NANP runs: only with a phone word before them in the same clause
        ("Call me at 6318110910 tomorrow.", ["6318110910"]),
        ("Phone: 2323892184 ", ["2323892184"]),
        ("Tel. 2125551234", ["2125551234"]),
        ("phone number 2125551234", ["2125551234"]),
        ("phone no. 2125551234 x12", ["2125551234 x12"]),
        ("fax:2125551234", ["2125551234"]),
        ("call +1 2125551234", ["+1 2125551234"]),
        ("电话2125551234", ["2125551234"]),
        ("手机号码2125551234。", ["2125551234"]),
        ("Call back. Order 5551234567 shipped", []),  # the phone word is in an earlier sentence
        ("call about order 5551234567", []),  # an identifier word after the phone word
        ("phone the shop about invoice 2125551234", []),
        ("电话咨询订单2125551234", []),
        ("recall 2125551234 units", []),  # no phone word, only letters of one
        ("phone 1555123456", []),  # area codes never start with 0 or 1
        ("phone 21255512345", []),  # eleven digits
        # Not phones: dates, order numbers, invoice ids, other identifiers
        ("order 5551234567 shipped", []),  # bare ten digits
        ("order #5551234567", []),
        ("order 2024-01-15", []),
        ("date 2023.10.12", []),
        ("at 2024-03-15 12:30:45", []),
        ("invoice INV-2024-000123", []),
        ("invoice 20240315-123456", []),
        ("ref 20231012-0001", []),
        ("SSN 123-45-6789", []),
        ("version 1.2.3.4", []),
        ("area 155-123-4567", []),  # NANP area codes never start with 0 or 1
    ],
)
def test_phone(text: str, expected: list[str]) -> None:
    assert [v for _, v in spans(PhoneRecognizer(), text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("邮箱zhang.wei@example.com。", [("EMAIL", "zhang.wei@example.com")]),
        ("mail <a+b@mail.example.co.uk>.", [("EMAIL", "a+b@mail.example.co.uk")]),
        ("IP地址192.168.1.1，", [("IP_ADDRESS", "192.168.1.1")]),
        ("ip 256.1.1.1", []),
        ("version 1.2.3.4.5", []),
        ("v6 fe80::1ff:fe23:4567:890a, ok", [("IP_ADDRESS", "fe80::1ff:fe23:4567:890a")]),
        ("time 12:30:45", []),
        ("see https://example.com/a?b=1.", [("URL", "https://example.com/a?b=1")]),
        ("访问https://example.cn/路径，", [("URL", "https://example.cn/")]),
        ("go to www.example.org)", [("URL", "www.example.org")]),
        ("not an email: a@b", []),
    ],
)
def test_network(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(NetworkRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("护照号码E12345678。", ["E12345678"]),
        ("passport G87654321", ["G87654321"]),
        ("Passport No: K1234567", ["K1234567"]),
        ("Order K1234567 shipped", []),
        ("E1234567", []),  # 7 digits
    ],
)
def test_passport(text: str, expected: list[str]) -> None:
    assert [v for _, v in spans(PassportRecognizer(), text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("车牌京A·12345停在门口", ["京A·12345"]),
        ("粤B D12345", ["粤B D12345"]),  # new-energy plate with a space
        ("粤BD12345新能源", ["粤BD12345"]),
        ("沪C1234挂", ["沪C1234挂"]),
        ("京I12345", []),
        ("京O12345", []),
    ],
)
def test_plate(text: str, expected: list[str]) -> None:
    assert [v for _, v in spans(PlateRecognizer(), text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Ship to 690 Sanchez Union Suite 625\nChristopherhaven, CT 21957.",
            "690 Sanchez Union Suite 625\nChristopherhaven, CT 21957",
        ),
        ("地址：浙江省杭州市西湖区文三路90号，电话", "浙江省杭州市西湖区文三路90号"),
        ("I bought 3 Apples", None),
    ],
)
def test_address(text: str, expected: str | None) -> None:
    got = [v for _, v in spans(AddressRecognizer(), text)]
    assert got == ([expected] if expected else [])


def test_chinese_names_and_places() -> None:
    text = "收件人：李娜，住在上海，联系王先生。"
    got = set(spans(ChineseNerRecognizer(), text))
    assert ("PERSON", "李娜") in got
    assert ("LOCATION", "上海") in got
    assert ("PERSON", "王") not in got  # single character is not reported


def test_chinese_ner_skips_text_without_han() -> None:
    assert ChineseNerRecognizer().find("John lives in Paris") == []


def test_overlap_checksum_beats_generic_and_longer_beats_shorter() -> None:
    a = Finding(0, 18, "BANK_CARD", 1.0, "bank_card_luhn", 99)
    b = Finding(0, 18, "CN_ID", 1.0, "cn_resident_id", 100)
    c = Finding(0, 9, "PASSPORT", 0.6, "passport_context", 30)
    assert resolve_overlaps([a, b, c]) == [b]
    short, long_ = Finding(0, 4, "X", 1.0, "r", 10), Finding(2, 10, "Y", 0.5, "r", 10)
    assert resolve_overlaps([short, long_]) == resolve_overlaps([long_, short]) == [long_]


def test_id_that_passes_luhn_stays_an_id() -> None:
    # find a valid ID that also passes Luhn, then check the detector's choice
    from labelloop.compliance.pii import cn_id_check_char, luhn_ok

    for seq in range(1000):
        body = f"11010519900101{seq:03d}"
        cid = body + cn_id_check_char(body)
        if cid.isdigit() and luhn_ok(cid):
            break
    det = PiiDetector(english_ner=False, chinese_ner=False)
    assert [f.entity for f in det.detect(f"号码 {cid} 。")] == ["CN_ID"]


def test_detector_mixed_text_rules_only() -> None:
    det = PiiDetector(english_ner=False, chinese_ner=False)
    text = "张先生(zhang@example.cn)的手机13812345678，卡号6222 0200 0000 0000 8，IP 10.0.0.1"
    got = {f.entity for f in det.detect(text)}
    assert {"EMAIL", "PHONE", "IP_ADDRESS"} <= got


def test_detector_entity_filter_and_min_score() -> None:
    det = PiiDetector(english_ner=False, chinese_ner=False, entities=["EMAIL"], min_score=0.5)
    assert [f.entity for f in det.detect("a@example.com 13812345678")] == ["EMAIL"]
