"""A CSV's labels as departments: mapped, matching a department's name, or left for triage."""
import pytest

from ai_categorization_service.modelops import map_labels
from ai_categorization_service.training_data import DataError

DEPARTMENTS = ["IT Support", "HR", "Finance", "General"]


def test_mapped_matching_and_unmapped_labels():
    labels = ["net", "hr", "Finance", "Legal", "net"]
    mapped, without = map_labels(labels, {"net": "IT Support"}, DEPARTMENTS)
    assert mapped == ["IT Support", "HR", "Finance", "Legal", "IT Support"]
    assert without == ["Legal"]


def test_a_map_to_an_unknown_department_is_reported_and_an_unknown_label_refused():
    assert map_labels(["a"], {"a": "Legal"}, DEPARTMENTS) == (["Legal"], ["Legal"])
    with pytest.raises(DataError):
        map_labels(["a"], {"b": "HR"}, DEPARTMENTS)
