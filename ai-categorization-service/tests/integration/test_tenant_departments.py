"""Each tenant's departments in the AI schema: department.changed applied on the database."""
import pytest

from ai_categorization_service.tenant_departments import DepartmentState

pytestmark = pytest.mark.integration


def state(name, version, tenant="acme", active=True, keywords=("nda",)):
    return DepartmentState(tenant, name, f"{name} work", tuple(keywords), 0.5, False, active,
                           version)


def active_names(make_uow, tenant="acme"):
    with make_uow() as uow:
        return [d.name for d in uow.departments.active([tenant])[tenant]]


def test_changes_apply_by_version_on_top_of_the_shipped_departments(make_uow):
    assert active_names(make_uow) == ["IT Support", "HR", "Facilities", "Finance", "General"]
    with make_uow() as uow:
        uow.departments.apply_many([state("Legal", 1), state("Legal", 3, active=False),
                                    state("Legal", 2), state("HR", 2, keywords=())])
        uow.commit()
    assert active_names(make_uow) == ["IT Support", "HR", "Facilities", "Finance", "General"]
    with make_uow() as uow:
        uow.departments.apply_many([state("Legal", 2), state("Legal", 4)])
        uow.commit()
    with make_uow() as uow:
        found = uow.departments.active(["acme", "beta"])
    assert [d.name for d in found["acme"]][-1] == "Legal"
    assert found["acme"][-1].keywords == ("nda",)
    assert [d.name for d in found["beta"]][-1] == "General"
