"""Format-keeping fake values for pseudonymisation, drawn from an HMAC-seeded stream.

The same ``(key, entity, value)`` always yields the same fake, and different project keys give
unrelated fakes. No Faker at run time: small built-in generators keep the shape of the value
(digit groups, separators, letter case) and re-validate checksums (GB 11643, Luhn) so a
pseudonymised ID still looks like one.

Example:
    >>> a = pseudonym(b"k1", "PHONE", "13812345678")
    >>> a == pseudonym(b"k1", "PHONE", "13812345678"), a != pseudonym(b"k2", "PHONE", "13812345678")
    (True, True)
    >>> len(a), a.isdigit()
    (11, True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import string

from labelloop.compliance.pii.bank_card import luhn_ok
from labelloop.compliance.pii.cn_id import cn_id_check_char

__all__ = ["pseudonym"]

_EN_FIRST = [
    "James",
    "Mary",
    "John",
    "Linda",
    "Robert",
    "Susan",
    "Michael",
    "Karen",
    "David",
    "Nancy",
    "Daniel",
    "Laura",
    "Paul",
    "Emma",
    "Mark",
    "Grace",
]
_EN_LAST = [
    "Smith",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Moore",
    "Taylor",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
]
_ZH_SUR = "王李张刘陈杨黄赵吴周徐孙马朱胡郭"
_ZH_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_EN_PLACES = [
    "Springfield",
    "Riverton",
    "Fairview",
    "Greenville",
    "Madison",
    "Franklin",
    "Clinton",
    "Georgetown",
    "Salem",
    "Ashland",
]
_ZH_PLACES = ["青山", "白水", "东湖", "西岭", "南川", "北塘", "云台", "松江", "临溪", "安平"]


def _rng(key: bytes, entity: str, value: str) -> random.Random:
    digest = hmac.new(key, f"{entity}\x00{value}".encode(), hashlib.sha256).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _shape(rng: random.Random, value: str) -> str:
    out = []
    for c in value:
        if c.isascii() and c.isdigit():
            out.append(rng.choice(string.digits))
        elif c.isascii() and c.isupper():
            out.append(rng.choice(string.ascii_uppercase))
        elif c.isascii() and c.islower():
            out.append(rng.choice(string.ascii_lowercase))
        else:
            out.append(c)
    return "".join(out)


def _has_han(value: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in value)


def _luhn_fix(value: str) -> str:
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    chars = list(value)
    for d in "0123456789":
        chars[positions[-1]] = d
        if luhn_ok("".join(chars[i] for i in positions)):
            break
    return "".join(chars)


def pseudonym(key: bytes, entity: str, value: str) -> str:
    """Return a deterministic fake for ``value`` of type ``entity`` under project ``key``.

    Args:
        key: The project's secret pseudonymisation key.
        entity: Entity type of the value (selects the generator).
        value: The original text.

    Example:
        >>> p = pseudonym(b"k", "CN_ID", "11010519491231002X")
        >>> from labelloop.compliance.pii import is_valid_cn_id
        >>> len(p), p[:6], is_valid_cn_id(p)
        (18, '110105', True)
    """
    rng = _rng(key, entity, value)
    if entity == "PERSON":
        if _has_han(value):
            return rng.choice(_ZH_SUR) + "".join(rng.choice(_ZH_GIVEN) for _ in range(max(1, len(value) - 1)))
        return f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"
    if entity in ("LOCATION", "ADDRESS"):
        if _has_han(value):
            return rng.choice(_ZH_PLACES) + (
                "市" if entity == "LOCATION" else f"市{rng.choice(_ZH_PLACES)}路{rng.randint(1, 999)}号"
            )
        place = rng.choice(_EN_PLACES)
        return place if entity == "LOCATION" else f"{rng.randint(1, 9999)} {rng.choice(_EN_LAST)} Street, {place}"
    if entity == "EMAIL":
        return f"user{rng.randrange(16**8):08x}@example.com"
    if entity == "URL":
        return f"https://example.com/{rng.randrange(16**8):08x}"
    if entity == "IP_ADDRESS":
        if ":" in value:
            return "2001:db8::" + ":".join(f"{rng.randrange(65536):x}" for _ in range(2))
        return f"192.0.2.{rng.randint(1, 254)}"
    if entity == "CN_ID" and len(value) == 18:
        # Keep the region code, draw a new birth date and sequence, recompute the check character.
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        body = value[:6] + born.strftime("%Y%m%d") + "".join(rng.choice(string.digits) for _ in range(3))
        return body + cn_id_check_char(body)
    if entity == "PHONE" and value.lstrip("+").startswith(("1", "861", "86 1")) and value.isdigit():
        return "1" + rng.choice("3456789") + "".join(rng.choice(string.digits) for _ in range(len(value) - 2))
    fake = _shape(rng, value)
    if entity == "BANK_CARD" and any(c.isdigit() for c in fake):
        fake = _luhn_fix(fake)
    return fake
