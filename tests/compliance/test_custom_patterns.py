from __future__ import annotations

import pytest

from labelloop.compliance.pii import PatternSpec, PiiDetector, compile_pattern, compile_patterns
from labelloop.errors import InputRejected


@pytest.mark.parametrize(
    ("regex", "error"),
    [
        (r"EMP-\d{6}", None),
        (r"(?:AB|CD)-\d{2,4}", None),
        (r"EMP-(", "valid regular expression"),
        (r"(a+)+$", "nested repetition"),
        (r"(a*)*b", "nested repetition"),
        (r"(?:x+y?){2,}", "nested repetition"),
        (r"(\w+\s?)*$", "nested repetition"),
        (r"(a)\1", "backreferences"),
        (r"a*", "empty string"),
        ("x" * 501, "1..500 characters"),
    ],
)
def test_pattern_validation(regex: str, error: str | None) -> None:
    spec = PatternSpec("my_pattern", regex, "EMPLOYEE_ID")
    if error is None:
        assert compile_pattern(spec).name == "my_pattern"
    else:
        with pytest.raises(InputRejected, match=error) as info:
            compile_pattern(spec)
        assert "my_pattern" in str(info.value)


@pytest.mark.parametrize(
    ("entity", "score", "error"),
    [("lower", 0.5, "UPPER_SNAKE"), ("OK", 1.5, "score")],
)
def test_pattern_spec_fields(entity: str, score: float, error: str) -> None:
    with pytest.raises(InputRejected, match=error):
        compile_pattern(PatternSpec("p", "X\\d", entity, score))


def test_duplicate_names_refused() -> None:
    with pytest.raises(InputRejected, match="unique"):
        compile_patterns([PatternSpec("p", "A\\d", "A"), PatternSpec("p", "B\\d", "B")])


def test_extra_patterns_in_detector() -> None:
    det = PiiDetector(english_ner=False, chinese_ner=False, extra_patterns=[PatternSpec("emp", r"EMP-\d{6}", "EMP_ID")])
    assert [(f.entity, f.recognizer) for f in det.detect("badge EMP-004211")] == [("EMP_ID", "emp")]
