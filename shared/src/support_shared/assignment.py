"""Public request and response shapes of agents and assignment (routing-service), as the
service validates and answers them and the gateway documents them."""
from __future__ import annotations

__all__ = ["AssignmentPolicy", "AgentCreate", "AgentPatch", "AgentQuery", "Agent", "AgentList",
           "AssigneeRequest", "AssigneeResult", "AgentLoad", "AgentLoads"]

from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, EmailStr, Field, StrictInt, field_validator,
                      model_validator)

from .schemas import (MAX_ID, AssignmentPolicy, DepartmentName, Name, Page, Tag, _no_defaults,
                      _Strict)

AgentStatus = Literal["available", "away", "offline"]
MAX_CAPACITY = 10_000
MAX_SKILLS = 50
MAX_AGENT_DEPARTMENTS = 50

Capacity = Annotated[StrictInt, Field(ge=0, le=MAX_CAPACITY,
                                      description="the most open tickets the agent holds at once")]
Skills = Annotated[list[Tag], Field(max_length=MAX_SKILLS,
                                    description="matched (case-insensitive) against a ticket's "
                                                "tags and category by the skills policy")]
AgentDepartments = Annotated[list[DepartmentName], Field(max_length=MAX_AGENT_DEPARTMENTS)]


def _distinct(values: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.strip().lower(), value.strip())
    return list(seen.values())


class AgentCreate(_Strict):
    name: Name
    email: EmailStr
    departments: AgentDepartments = Field(default_factory=list)
    skills: Skills = Field(default_factory=list)
    capacity: Capacity = 10
    status: AgentStatus = "available"

    @field_validator("departments", "skills")
    @classmethod
    def _once(cls, values: list[str]) -> list[str]:
        return _distinct(values)


class AgentPatch(_Strict):
    """A partial edit (at least one field); ``{"status": "away"}`` hands the agent's open
    tickets back to their departments. The email is the agent's identity and does not change."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)

    name: Name = None  # type: ignore[assignment]
    departments: AgentDepartments = None  # type: ignore[assignment]
    skills: Skills = None  # type: ignore[assignment]
    capacity: Capacity = None  # type: ignore[assignment]
    status: AgentStatus = None  # type: ignore[assignment]

    @field_validator("departments", "skills")
    @classmethod
    def _once(cls, values: list[str]) -> list[str]:
        return _distinct(values)

    @model_validator(mode="after")
    def _not_empty(self) -> "AgentPatch":
        if not self.model_fields_set:
            raise ValueError("send at least one of name, departments, skills, capacity, status")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=self.model_fields_set)


class AgentQuery(Page):
    status: AgentStatus | None = None
    department: str | None = Field(None, min_length=1, max_length=100)


class Agent(BaseModel):
    id: int
    name: str
    email: str
    departments: list[str]
    skills: list[str]
    capacity: int
    status: AgentStatus
    open_tickets: int = Field(description="tickets assigned to the agent and not yet resolved")
    version: int


class AgentList(BaseModel):
    agents: list[Agent]
    next_cursor: str | None = Field(description="cursor of the next page; null on the last")


class AssigneeRequest(_Strict):
    """The agent to give the ticket to; null takes it from its agent (it waits in its
    department's queue)."""

    agent_id: int | None = Field(ge=1, le=MAX_ID, strict=True)


class AssigneeResult(BaseModel):
    ticket_id: int
    department: str
    agent_id: int | None
    previous_agent_id: int | None
    assignment_version: int
    changed: bool = Field(description="false when the ticket already had that assignee")


class AgentLoad(BaseModel):
    agent_id: int
    name: str | None
    open_tickets: int


class AgentLoads(BaseModel):
    """Open tickets (not resolved, closed or deleted) per assignee, as analytics projects them."""

    agents: list[AgentLoad]
    unassigned_open: int = Field(description="open tickets nobody holds")
