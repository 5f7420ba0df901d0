from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.compliance import Finding, PiiDetector, redact, remap_regions, remap_span
from labelloop.compliance.pii import is_valid_cn_id, luhn_ok

TEXT = "张伟的手机13812345678，邮箱zw@example.com，身份证11010519491231002X。"


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return PiiDetector(english_ner=False, chinese_ner=False).detect(TEXT)


def test_mask_and_tag(findings: list[Finding]) -> None:
    assert redact(TEXT, findings, mode="mask").text == "张伟的手机***，邮箱***，身份证***。"
    assert redact(TEXT, findings, mode="tag").text == "张伟的手机<PHONE>，邮箱<EMAIL>，身份证<CN_ID>。"


def test_pseudonym_is_consistent_per_project_and_keeps_format(findings: list[Finding]) -> None:
    a = redact(TEXT, findings, mode="pseudonym", key=b"project-a")
    assert a.text == redact(TEXT, findings, mode="pseudonym", key=b"project-a").text
    assert a.text != redact(TEXT, findings, mode="pseudonym", key=b"project-b").text
    values = {r.entity: a.text[r.new_start : r.new_end] for r in a.replacements}
    assert values["PHONE"] != "13812345678" and len(values["PHONE"]) == 11 and values["PHONE"].startswith("1")
    assert values["EMAIL"].endswith("@example.com") and values["EMAIL"] != "zw@example.com"
    assert is_valid_cn_id(values["CN_ID"]) and values["CN_ID"] != "11010519491231002X"


def test_pseudonym_same_value_same_fake_within_text() -> None:
    text = "a@example.com then a@example.com"
    fs = PiiDetector(english_ner=False, chinese_ner=False).detect(text)
    r = redact(text, fs, mode="pseudonym", key=b"k")
    first, second = (r.text[x.new_start : x.new_end] for x in r.replacements)
    assert first == second


def test_pseudonym_bank_card_passes_luhn() -> None:
    text = "card 4111 1111 1111 1111"
    r = redact(text, PiiDetector(english_ner=False, chinese_ner=False).detect(text), mode="pseudonym", key=b"k")
    assert luhn_ok(r.text[5:].replace(" ", "")) and r.text[5:] != text[5:]


def test_pseudonym_needs_key(findings: list[Finding]) -> None:
    with pytest.raises(ValueError, match="project key"):
        redact(TEXT, findings, mode="pseudonym")


def test_salted_hash(findings: list[Finding]) -> None:
    a = redact(TEXT, findings, mode="hash", salt=b"s1").text
    assert a == redact(TEXT, findings, mode="hash", salt=b"s1").text
    assert a != redact(TEXT, findings, mode="hash", salt=b"s2").text
    assert "<PHONE:" in a and "13812345678" not in a


def test_unknown_mode_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        redact("abc", [], mode="scramble")
    with pytest.raises(ValueError, match="past the end"):
        redact("abc", [Finding(1, 5, "X", 1.0, "r")])


def test_remap_regions_policies() -> None:
    text = "Call 13812345678 today"
    red = redact(text, [Finding(5, 16, "PHONE", 1.0, "cn_mobile")], mode="tag")
    regions: list[dict[str, Any]] = [
        {"id": "a", "control": "ner", "label": "TIME", "start": 17, "end": 22, "text": "today"},
        {"id": "b", "control": "ner", "label": "X", "start": 0, "end": 10},
        {"id": "c", "control": "ner", "label": "X", "start": 6, "end": 9},
        {"id": "d", "control": "ner", "label": "ALL", "start": 0, "end": 22},
        {"id": "e", "control": "cls", "labels": ["ok"]},
    ]
    out = remap_regions(regions, red)
    assert [r["id"] for r in out.regions] == ["a", "b", "d", "e"]
    assert out.regions[0]["text"] == "today" == red.text[out.regions[0]["start"] : out.regions[0]["end"]]
    assert [s.status for s in out.reports] == ["exact", "clipped", "dropped", "contains"]
    assert red.text[out.regions[2]["start"] : out.regions[2]["end"]] == red.text
    expanded = remap_regions(regions, red, policy="expand")
    assert [s.status for s in expanded.reports] == ["exact", "expanded", "expanded", "contains"]
    dropped = remap_regions(regions, red, policy="drop")
    assert [r["id"] for r in dropped.regions] == ["a", "d", "e"]
    assert regions[0]["start"] == 17  # input untouched


@st.composite
def text_and_findings(draw: st.DrawFn) -> tuple[str, list[Finding]]:
    text = draw(st.text(alphabet="ab 张伟😀\n", min_size=1, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=8)))
    fs = [
        Finding(a, b, draw(st.sampled_from(["PHONE", "EMAIL", "PERSON"])), 1.0, "r")
        for a, b in zip(cuts[::2], cuts[1::2], strict=False)
        if b > a
    ]
    return text, fs


modes = st.sampled_from(["mask", "tag", "pseudonym", "hash"])


@settings(max_examples=150, deadline=None)
@given(text_and_findings(), modes, st.data())
def test_remap_properties(tf: tuple[str, list[Finding]], mode: str, data: st.DataObject) -> None:
    text, fs = tf
    red = redact(text, fs, mode=mode, key=b"k")
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    status, ns, ne = remap_span(start, end, red)
    overlapping = [r for r in red.replacements if r.start < end and start < r.end]
    if not overlapping:
        assert status == "exact"
        assert ns is not None and ne is not None
        assert red.text[ns:ne] == text[start:end]
    elif status == "dropped":
        assert ns is None and ne is None
    else:
        assert ns is not None and ne is not None
        assert 0 <= ns < ne <= len(red.text)
        # edges never fall strictly inside a replacement
        for r in red.replacements:
            assert not r.new_start < ns < r.new_end and not r.new_start < ne < r.new_end
    # the unredacted parts are kept verbatim and in order
    kept = [text[a:b] for a, b in _gaps(len(text), [(r.start, r.end) for r in red.replacements])]
    new_kept = [red.text[a:b] for a, b in _gaps(len(red.text), [(r.new_start, r.new_end) for r in red.replacements])]
    assert kept == new_kept


@settings(max_examples=100, deadline=None)
@given(text_and_findings())
def test_map_offset_monotonic(tf: tuple[str, list[Finding]]) -> None:
    text, fs = tf
    red = redact(text, fs, mode="tag")
    inside = {p for r in red.replacements for p in range(r.start + 1, r.end)}
    mapped = [red.map_offset(p) for p in range(len(text) + 1) if p not in inside]
    assert mapped == sorted(mapped)
    assert mapped[0] == 0 and mapped[-1] == len(red.text)


def _gaps(n: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for a, b in ranges:
        out.append((pos, a))
        pos = b
    out.append((pos, n))
    return out
