"""Licence plates: which OCR lines are plates, and their boxes (no model needed)."""

from __future__ import annotations

import pytest

from labelloop.compliance import PlateRegion, find_plates, is_plate_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("京A·12345", True),
        ("京A.12345", True),  # OCR reads the middle dot as a full stop
        ("京A・12345", True),
        ("粤B 8K2M7", True),
        ("沪AD12345", True),  # new-energy plate
        ("车牌京A12345", True),  # a plate inside a longer line
        ("AB12 CDE", True),  # UK, current format
        ("ab12cde", True),
        ("京I12345", False),  # I is never an office letter
        ("OPEN 24H", False),
        ("AB12 CDE LTD", False),  # Western plates only as the whole line
        ("order AB12CDE", False),
        ("IQ12 ABC", False),  # UK plates use neither I nor Q
        ("Invoice No. 2024-0815", False),
    ],
)
def test_is_plate_text(text: str, expected: bool) -> None:
    assert is_plate_text(text) is expected


def test_find_plates_clips_sorts_and_skips_unsure_lines() -> None:
    lines = [
        ([(50.0, 60.5), (120.0, 60.5), (120.0, 80.2), (50.0, 80.2)], "粤B 8K2M7", 0.9),
        ([(-3.0, 5.0), (40.0, 5.0), (40.0, 30.0), (-3.0, 30.0)], "AB12 CDE", 0.97),
        ([(0.0, 90.0), (30.0, 90.0), (30.0, 99.0), (0.0, 99.0)], "京A12345", 0.3),  # below min_score
        ([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)], "hello", 0.99),
    ]
    assert find_plates(lines, 100, 100) == [PlateRegion((0, 5, 40, 30), 0.97), PlateRegion((50, 60, 100, 81), 0.9)]
    assert find_plates(lines, 100, 100, min_score=0.95) == [PlateRegion((0, 5, 40, 30), 0.97)]


def test_plate_region_refuses_an_empty_box() -> None:
    with pytest.raises(ValueError, match="0 <= min < max"):
        PlateRegion((5, 5, 5, 9), 0.5)
