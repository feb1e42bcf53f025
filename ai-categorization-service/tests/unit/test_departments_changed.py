"""department.changed on the fakes (batches of one and many, duplicates, stale versions), and
categorization among the tenant's active departments (keyword rules, Claude's prompt and enum)."""
from ai_categorization_service.claude import build_system_prompt, build_tool
from ai_categorization_service.departments import Department
from ai_categorization_service.handlers import handle_departments_changed, handle_tickets_created
from ai_categorization_service.keywords import KeywordCategorizer
from support_shared.events import DepartmentChanged, EventType, new_event

from .test_handlers import ticket_created


def changed(name="Legal", version=1, tenant="acme", active=True, keywords=("nda",)):
    payload = DepartmentChanged(name=name, description=f"{name} matters", keywords=list(keywords),
                                min_confidence=0.5, active=active, version=version,
                                change="created" if version == 1 else "updated")
    return new_event(EventType.DEPARTMENT_CHANGED, payload, tenant_id=tenant, ticket_id=None,
                     ticket_version=None)


def names(uow, tenant="acme"):
    return [d.name for d in uow.departments.active([tenant])[tenant]]


def test_a_batch_of_one_adds_the_department_to_the_shipped_ones(uow):
    handle_departments_changed([changed()], uow=uow)
    assert names(uow) == ["IT Support", "HR", "Facilities", "Finance", "General", "Legal"]
    assert uow.commits == 1
    assert names(uow, "other") == ["IT Support", "HR", "Facilities", "Finance", "General"]


def test_a_batch_of_many_with_a_duplicate_and_a_stale_version(uow):
    first, newer, stale = changed(), changed(version=3, active=False), changed(version=2)
    hr_off = changed("HR", version=2, active=False, keywords=())
    handle_departments_changed([first, newer, first, stale, hr_off,
                                changed("Ops", tenant="beta")], uow=uow)
    assert names(uow) == ["IT Support", "Facilities", "Finance", "General"]
    assert names(uow, "beta")[-1] == "Ops"
    handle_departments_changed([first, stale], uow=uow)        # redelivered, older: no effect
    assert "Legal" not in names(uow)
    handle_departments_changed([changed(version=4)], uow=uow)
    assert names(uow)[-1] == "Legal"


def test_tickets_are_categorized_among_their_tenant_s_departments(uow):
    handle_departments_changed([changed(keywords=("nda", "contract review"))], uow=uow)
    ticket = ticket_created(ticket_id=1, title="Please sign this NDA")
    other = ticket_created(ticket_id=2, tenant="beta", title="Please sign this NDA")
    handle_tickets_created([ticket, other], uow=uow, categorizer=KeywordCategorizer())
    decisions = {e.ticket_id: e.payload() for e in uow.outbox.events}
    assert decisions[1].department == "Legal" and decisions[1].confidence >= 0.5
    assert decisions[2].department == "General"


def test_keyword_rules_follow_deactivation_and_the_triage_department():
    rules = KeywordCategorizer()
    mine = [Department("Legal", "", ("nda",)), Department("Desk", "", (), is_triage=True)]
    assert rules.categorize("NDA", "sign it", departments=mine).department == "Legal"
    assert rules.categorize("Payroll", "salary wrong", departments=mine).department == "Desk"
    shipped_and_mine = [Department("Finance", "money"), *mine]
    assert rules.categorize("Payroll", "salary wrong",
                            departments=shipped_and_mine).department == "Finance"


def test_claude_sees_exactly_the_tenant_s_active_departments():
    mine = [Department("Legal", "contracts"), Department("Desk", "anything", is_triage=True)]
    assert build_tool(mine)["input_schema"]["properties"]["department"]["enum"] == ["Legal",
                                                                                   "Desk"]
    prompt = build_system_prompt(mine)
    assert "- Legal: contracts" in prompt and "choose Desk." in prompt


def test_the_tenant_s_own_keywords_decide_before_the_models_or_fall_through():
    import pytest

    from ai_categorization_service.categorizer import CategorizationError
    from ai_categorization_service.keywords import TenantKeywordCategorizer

    own = TenantKeywordCategorizer()
    mine = [Department("Finance", "money"), Department("Legal", "", ("nda", "contract review")),
            Department("General", "", is_triage=True)]
    decision = own.categorize("NDA for payroll vendor", "contract review", departments=mine)
    assert (decision.department, decision.method) == ("Legal", "keywords")
    for text in ("salary wrong", "hello"):
        with pytest.raises(CategorizationError):
            own.categorize(text, "", departments=mine)
    with pytest.raises(CategorizationError):
        own.categorize("NDA", "", departments=[Department("HR", "people")])
