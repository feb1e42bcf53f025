"""The departments tickets can be routed to: the active set every categorizer chooses from.

Each tenant's departments are routing-service's, copied here from ``department.changed``
events (``tenant_departments``); a tenant none of whose departments changed yet has the
shipped ones below, as routing-service seeds them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

TRIAGE_DEPARTMENT = "General"


@dataclass(frozen=True)
class Department:
    name: str
    description: str
    keywords: tuple[str, ...] = ()     # the tenant's own keyword rules for it
    is_triage: bool = False            # where what fits nowhere goes


DEFAULT_DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "IT Support",
        "Computers, laptops, software, accounts and passwords, email, network, VPN, "
        "printers, phones and other technology problems.",
    ),
    Department(
        "HR",
        "Human resources: leave and vacation, benefits, hiring and onboarding, contracts, "
        "workplace conduct, training and employee records.",
    ),
    Department(
        "Facilities",
        "Buildings and offices: heating and air conditioning, lighting, plumbing, cleaning, "
        "furniture, parking, keys and access badges, meeting rooms, repairs.",
    ),
    Department(
        "Finance",
        "Money matters: payroll and salary, expenses and reimbursements, invoices, "
        "purchase orders, budgets, payments to vendors and taxes.",
    ),
    Department(
        TRIAGE_DEPARTMENT,
        "Anything that fits no other department or is unclear; a person triages it.",
        is_triage=True,
    ),
)


class DepartmentSource(Protocol):
    """Where the active departments come from (static today; a database or service later)."""

    def active(self) -> Sequence[Department]: ...


class StaticDepartments:
    """A fixed set of departments, by default the five shipped ones."""

    def __init__(self, departments: Sequence[Department] = DEFAULT_DEPARTMENTS) -> None:
        if not departments:
            raise ValueError("at least one department is needed")
        names = [d.name for d in departments]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate department names in {names}")
        self._departments = tuple(departments)

    def active(self) -> Sequence[Department]:
        return self._departments


def names(departments: Sequence[Department]) -> list[str]:
    return [d.name for d in departments]


def triage_name(departments: Sequence[Department]) -> str:
    """The triage department of this set (the shipped one's name when none is marked)."""
    return next((d.name for d in departments if d.is_triage), TRIAGE_DEPARTMENT)
