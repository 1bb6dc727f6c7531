"""The comparison every fault test rests on sees a duplicate and a loss."""
from collections import Counter

from tests.faults.support import differences


def test_it_reports_a_duplicate_as_extra_and_a_loss_as_missing():
    expected = {"portal payments": Counter([("PY1", "10.00"), ("PY2", "5.00")])}
    actual = {"portal payments": Counter([("PY1", "10.00"), ("PY1", "10.00")])}
    assert differences(expected, actual) == {
        "portal payments": {"missing": [("PY2", "5.00")], "extra": [("PY1", "10.00")]}}
    assert differences(expected, expected) == {}
