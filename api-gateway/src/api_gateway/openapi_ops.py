"""The table of public operations the OpenAPI document describes, and its shared vocabulary."""
from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from pydantic import BaseModel

from support_shared.reports import (DashboardRouting, DashboardSummary, Department,
                                   DepartmentAnalytics, DepartmentList, PerformanceAnalytics,
                                   QueueDepths, RouteResult, RoutingHistory, RoutingStatistics,
                                   TicketAnalytics, Trends)
from support_shared.schemas import (CategorizeRequest, Categorization, Comment, CommentCreate,
                                   CommentList, DepartmentCreate, DepartmentPatch, ErasureRequest,
                                   Page, RequesterErasure, RerouteRequest, RouteRequest,
                                   StatusUpdate, StoredCategorization, TenantSettings, Ticket,
                                   TicketCreate, TicketHistory, TicketList, TicketPatch,
                                   TicketQuery, TriageRequest, TrendsQuery, User, UserCreate,
                                   UserList, UserQuery, CommentQuery)

from support_shared.sla import (SlaCalendar, SlaCalendarUpdate, SlaPolicy, SlaPolicyUpdate,
                                SlaReport, SlaReportQuery)

from support_shared.assignment import (Agent, AgentCreate, AgentList, AgentLoads, AgentPatch,
                                      AgentQuery, AssigneeRequest, AssigneeResult)
from support_shared.exchange import BatchResult, ExportQuery, ExportRecord, TicketBatch

from support_shared.integrations import (Delivery, DeliveryList, InboundAccepted, Ingestion,
                                         IngestionLogList, IngestionStart, Source, SourceCreate,
                                         SourceList, SourcePatch, Webhook, WebhookCreate,
                                         WebhookCreated, WebhookList, WebhookPatch)

from .admin import (DeadMessageList, DeadQueueList, PurgeRequest, PurgeResult, ReplayRequest,
                    ReplayResultView, ShowQuery)

ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Invalid input (validation_error, malformed_json, invalid_cursor)"),
    401: ("Unauthorized", "No API key, or an invalid or revoked one (unauthorized); see "
                         "WWW-Authenticate. Inbound webhooks: a bad, missing or stale "
                         "signature (invalid_signature)"),
    403: ("Forbidden", "The API key lacks the scope this operation needs (forbidden), or the "
                       "operation is the suite operator's (operator_required)"),
    404: ("NotFound", "No such resource (or path)"),
    405: ("MethodNotAllowed", "Method not allowed on this path"),
    409: ("Conflict", "Conflicts with the resource's current state (invalid_transition, "
                     "source_exists, ingestion_running: one ingestion per source at a time, "
                     "ticket_closed: reopen it first, user_exists, department_exists, "
                     "triage_department_required, triage_conflict, agent_exists, "
                     "agent_unavailable: away, offline or at capacity, ticket_not_routed, "
                     "idempotency_conflict: same "
                     "Idempotency-Key still in flight; "
                     "not_a_dead_letter_queue: the admin DLQ operations only take *.dlq and "
                     "the unroutable queue)"),
    412: ("PreconditionFailed", "If-Match does not match the current ETag"),
    413: ("PayloadTooLarge", "Body over 64 KiB (payload_too_large)"),
    415: ("UnsupportedMediaType", "Body is not JSON"),
    422: ("UnprocessableContent", "Idempotency-Key already used with another body "
                                 "(idempotency_key_reused), or a source/webhook URL that is "
                                 "private, loopback or link-local (target_refused)"),
    429: ("TooManyRequests", "Rate limit of the API key exceeded (too_many_requests); see "
                           "Retry-After"),
    502: ("BadGateway", "A service failed (bad_gateway)"),
    503: ("ServiceUnavailable", "A service is unreachable or its circuit is open "
                               "(service_unavailable); see Retry-After"),
    504: ("GatewayTimeout", "A service did not answer in time (upstream_timeout)"),
}
# Answers an operation gives instead of the shared one for a status: components.responses name
# -> description.
SPECIFIC_ERRORS: dict[str, str] = {
    "OutcomeUnknown": "The create timed out and may still complete (outcome_unknown), or a "
                      "service did not answer in time (upstream_timeout). Retry with the same "
                      "Idempotency-Key to get the first create's outcome: a retry without one "
                      "may create a second ticket",
}
UPSTREAM_ERRORS = (502, 503, 504)
BODY_ERRORS = (400, 413, 415)
AUTH_ERRORS = (401, 403, 429)
MAX_ID = 2**63 - 1
PATH_PARAMS = {"ticket_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
              "agent_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
              "user_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
              "name": {"type": "string", "minLength": 1},
              "queue": {"type": "string", "minLength": 1},
              "job_id": {"type": "string", "format": "uuid"},
              "webhook_id": {"type": "string", "format": "uuid"},
              "delivery_id": {"type": "string", "format": "uuid"},
              "source": {"type": "string", "pattern": "^[a-z0-9_.-]{1,64}$"}}
PARAM_DOCS = {
    "limit": "Page size (1-200, default 50)",
    "cursor": "Opaque cursor: the next_cursor of the previous page",
    "status": "Only tickets with this status",
    "priority": "Only tickets with this priority",
    "department": "Only tickets routed to this department",
    "q": "Full-text search in title and description (web search syntax: words, \"phrases\", "
        "-exclusions, or)",
    "tag": "Only tickets carrying this tag",
    "requester_id": "Only tickets of this requester (user id)",
    "ai_status": "Only tickets whose AI status is this (pending, categorized, fallback, "
                 "needs_review)",
    "sentiment": "Only tickets with this rule-based sentiment (negative, neutral, positive)",
    "requires_action": "Only tickets that require an action (true) or not (false)",
    "email": "Only the user with this e-mail address (case-insensitive)",
    "days": "Length of the window in days (1-365, default 7)",
    "deadLetterLimit": "How many messages to show (1-1000, default 10; a tenant admin's own "
                       "messages, looked for through the whole queue); all are put back",
    "agentStatus": "Only agents with this status",
    "agentDepartment": "Only agents working this department (case-insensitive)",
    "slaDays": "Tickets opened in the last this many days (1-365, default 30)",
    "view": "requester: the requester's view, internal notes left out (default agent: all)",
    "body": "Include each message's body: true/false (also 1/0, yes/no, on/off; default "
            "false). Bodies hold personal data",
    "updated_since": "Only tickets changed at or after this time (ISO 8601 with a zone)",
    "format": "jsonl (default: one {\"ticket\", \"cursor\"} object a line) or csv (a "
              "header row, then a ticket a row with its cursor last)",
    "exportCursor": "Resume after the record that carried this cursor (any record's cursor: "
                    "the last one received after an interruption)",
    "exportLimit": "At most this many tickets (1-100000, default 10000); fewer means the "
                   "export caught up",
}
# components.parameters key -> (the query model that validates it, its field = the query name)
QUERY_PARAMS: dict[str, tuple[type[BaseModel], str]] = {
    **{name: (TicketQuery, name) for name in TicketQuery.model_fields},
    **{name: (UserQuery, name) for name in UserQuery.model_fields},
    **{name: (TrendsQuery, name) for name in TrendsQuery.model_fields},
    "deadLetterLimit": (ShowQuery, "limit"),
    "agentStatus": (AgentQuery, "status"),
    "agentDepartment": (AgentQuery, "department"),
    "body": (ShowQuery, "body"),
    "updated_since": (ExportQuery, "updated_since"),
    "format": (ExportQuery, "format"),
    "exportCursor": (ExportQuery, "cursor"),
    "exportLimit": (ExportQuery, "limit"),
    "view": (CommentQuery, "view"),
    "slaDays": (SlaReportQuery, "days"),
}

PAGE = tuple(Page.model_fields)                              # limit, cursor
TICKET_FILTERS = tuple(TicketQuery.model_fields)
DEPARTMENT_TICKET_FILTERS = (*PAGE, "status", "priority")
USER_FILTERS = tuple(UserQuery.model_fields)
TREND_FILTERS = tuple(TrendsQuery.model_fields)              # days
DEAD_LETTER_FILTERS = ("deadLetterLimit", "body")
EXPORT_PARAMS = ("updated_since", "format", "exportCursor", "exportLimit")


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    _: KW_ONLY
    response: type[BaseModel] | None        # the success body, typed; None only with 204
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[str, ...] = ()             # query parameter names (components.parameters)
    errors: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()           # request header parameters
    specific: tuple[tuple[int, str], ...] = ()  # status -> a SPECIFIC_ERRORS response
    body_required: bool = True              # False: an empty body means the model's defaults
    stream: bool = False                    # answers JSON Lines or CSV (``response``: a line)

    def __post_init__(self) -> None:
        if (self.response is None) != (self.status == 204):
            raise ValueError(f"{self.operation_id}: a typed response unless it answers 204")


OPERATIONS: tuple[Op, ...] = (
    Op("get", "/api/tickets", "listTickets", "List tickets, newest first; filter and search",
       "tickets", response=TicketList, query=TICKET_FILTERS, errors=(400,)),
    Op("post", "/api/tickets", "createTicket", "Create a ticket (and its requester)", "tickets",
       body=TicketCreate, response=Ticket, status=201, errors=(409, 422),
       headers=("IdempotencyKey", "Prefer"), specific=((504, "OutcomeUnknown"),)),
    Op("get", "/api/tickets/{ticket_id}", "getTicket", "One ticket (with ETag)", "tickets",
       response=Ticket, errors=(404,)),
    Op("patch", "/api/tickets/{ticket_id}", "updateTicket",
       "Edit title, description, priority or tags", "tickets", body=TicketPatch,
       response=Ticket, errors=(404, 412), headers=("IfMatch",)),
    Op("delete", "/api/tickets/{ticket_id}", "deleteTicket",
       "Delete a ticket (soft): afterwards every read of it is 404, in every service", "tickets",
       response=None, status=204, errors=(404, 412), headers=("IfMatch",)),
    Op("put", "/api/tickets/{ticket_id}/status", "updateTicketStatus",
       "Change a ticket's status", "tickets", body=StatusUpdate, response=Ticket,
       errors=(404, 409, 412), headers=("IfMatch",)),
    Op("get", "/api/tickets/{ticket_id}/comments", "listComments", "A ticket's comments, "
       "oldest first", "tickets", response=CommentList, query=(*PAGE, "view"),
       errors=(400, 404)),
    Op("post", "/api/tickets/{ticket_id}/comments", "addComment", "Comment on a ticket",
       "tickets", body=CommentCreate, response=Comment, status=201, errors=(404, 409, 422),
       headers=("IdempotencyKey",)),
    Op("get", "/api/tickets/{ticket_id}/history", "ticketHistory", "A ticket's audit trail, "
       "oldest first", "tickets", response=TicketHistory, query=PAGE, errors=(400, 404)),
    Op("get", "/api/users", "listUsers", "Requesters, newest first", "users",
       response=UserList, query=USER_FILTERS, errors=(400,)),
    Op("post", "/api/users", "createUser", "Create a requester", "users", body=UserCreate,
       response=User, status=201, errors=(409, 422), headers=("IdempotencyKey",)),
    Op("get", "/api/users/{user_id}", "getUser", "One requester", "users", response=User,
       errors=(404,)),
    Op("post", "/api/categorize", "categorize", "Categorize a title and description", "ai",
       body=CategorizeRequest, response=Categorization),
    Op("get", "/api/departments", "listDepartments",
       "The tenant's departments, inactive ones included, in creation order", "routing",
       response=DepartmentList, query=PAGE, errors=(400,)),
    Op("post", "/api/departments", "createDepartment",
       "Add a department (admin scope); the routing and AI rules use it at once", "routing",
       body=DepartmentCreate, response=Department, status=201, errors=(409, 422),
       headers=("IdempotencyKey",)),
    Op("get", "/api/departments/{name}", "getDepartment", "One department", "routing",
       response=Department, errors=(404,)),
    Op("patch", "/api/departments/{name}", "updateDepartment",
       "Edit a department (admin scope); {\"active\": false} deactivates it", "routing",
       body=DepartmentPatch, response=Department, errors=(404, 409)),
    Op("get", "/api/departments/{name}/tickets", "listDepartmentTickets",
       "Tickets routed to one department", "routing", response=TicketList,
       query=DEPARTMENT_TICKET_FILTERS, errors=(400, 404)),
    Op("post", "/api/route", "routeTicket", "Route a ticket to a department", "routing",
       body=RouteRequest, response=RouteResult, errors=(404, 409, 422),
       headers=("IdempotencyKey",)),
    Op("put", "/api/route/{ticket_id}", "rerouteTicket", "Move a ticket to another department",
       "routing", body=RerouteRequest, response=RouteResult, errors=(404, 409, 422),
       headers=("IdempotencyKey",)),
    Op("post", "/api/tickets/{ticket_id}/triage", "triageTicket",
       "Confirm or reroute a ticket: it leaves review and becomes a labelled example",
       "routing", body=TriageRequest, response=RouteResult, errors=(404, 409, 422),
       headers=("IdempotencyKey",)),
    Op("get", "/api/routing/statistics", "routingStatistics", "Routing statistics", "routing",
       response=RoutingStatistics),
    Op("get", "/api/routing/history/{ticket_id}", "routingHistory",
       "A ticket's routing decisions (complete list)", "routing", response=RoutingHistory,
       errors=(404,)),
    Op("get", "/api/admin/dlq", "listDeadLetterQueues",
       "Dead-letter queues and their depths (operators)", "admin", response=DeadQueueList),
    Op("get", "/api/admin/dlq/{queue}", "showDeadLetters",
       "Peek at dead messages without removing them", "admin", response=DeadMessageList,
       query=DEAD_LETTER_FILTERS, errors=(400, 404, 409)),
    Op("post", "/api/admin/dlq/{queue}/replay", "replayDeadLetters",
       "Move dead messages back to the queue they came from", "admin", body=ReplayRequest,
       response=ReplayResultView, errors=(404, 409)),
    Op("post", "/api/admin/dlq/{queue}/purge", "purgeDeadLetters",
       "Delete every dead message of a queue ({\"confirm\": true}; operators)", "admin",
       body=PurgeRequest, response=PurgeResult, errors=(404, 409)),
    Op("get", "/api/dashboard/summary", "dashboardSummary", "Dashboard summary", "analytics",
       response=DashboardSummary),
    Op("get", "/api/dashboard/routing", "dashboardRouting", "Dashboard routing view",
       "analytics", response=DashboardRouting),
    Op("get", "/api/dashboard/queues", "dashboardQueues",
       "Depth, consumers and dead letters of every suite queue (operators)", "analytics",
       response=QueueDepths),
    Op("get", "/api/analytics/tickets", "ticketAnalytics", "Ticket counts", "analytics",
       response=TicketAnalytics),
    Op("get", "/api/analytics/performance", "performanceAnalytics",
       "Categorization and routing performance", "analytics", response=PerformanceAnalytics),
    Op("get", "/api/analytics/trends", "trendAnalytics", "Daily trends", "analytics",
       response=Trends, query=TREND_FILTERS, errors=(400,)),
    Op("get", "/api/analytics/department/{name}", "departmentAnalytics",
       "One department's figures (an unknown name gives zeros)", "analytics",
       response=DepartmentAnalytics, errors=(404,)),
    Op("post", "/api/users/{user_id}/erase", "eraseUser",
       "Erase a requester's personal data everywhere (admin scope): their row, their tickets' "
       "texts and comments in every service, published events, and with "
       "{\"dead_letters\": true} their tickets' dead letters; the tickets stay, so counts "
       "stay. Idempotent; the body may be empty", "users", body=ErasureRequest,
       response=RequesterErasure, errors=(404,), body_required=False),
    Op("get", "/api/tickets/{ticket_id}/categorization", "getTicketCategorization",
       "The AI service's stored categorization of a ticket", "ai",
       response=StoredCategorization, errors=(404,)),
    Op("get", "/api/settings", "getTenantSettings",
       "The tenant's settings (ai_priority: suggest or apply)", "tickets",
       response=TenantSettings),
    Op("put", "/api/settings", "putTenantSettings",
       "Set the tenant's settings (admin scope)", "tickets", body=TenantSettings,
       response=TenantSettings),
    Op("post", "/api/tickets/batch", "upsertTickets",
       "Create or update up to 1,000 tickets in one write; items with source and external_id "
       "update the ticket with that pair (results per item, in order; a bad item fails alone)",
       "tickets", body=TicketBatch, response=BatchResult),
    Op("get", "/api/tickets/export", "exportTickets",
       "Stream the tickets changed since a time (JSON Lines or CSV), each with the cursor "
       "that resumes after it", "tickets", response=ExportRecord, query=EXPORT_PARAMS,
       errors=(400,), stream=True),
    Op("get", "/api/agents", "listAgents", "The tenant's agents, oldest first", "agents",
       response=AgentList, query=(*PAGE, "agentStatus", "agentDepartment"), errors=(400,)),
    Op("post", "/api/agents", "createAgent",
       "Add an agent (admin scope); they take waiting tickets of their departments at once",
       "agents", body=AgentCreate, response=Agent, status=201, errors=(409, 422)),
    Op("get", "/api/agents/{agent_id}", "getAgent", "One agent", "agents", response=Agent,
       errors=(404,)),
    Op("patch", "/api/agents/{agent_id}", "updateAgent",
       "Edit an agent (admin scope); {\"status\": \"away\"} hands their open tickets back",
       "agents", body=AgentPatch, response=Agent, errors=(404, 422)),
    Op("put", "/api/tickets/{ticket_id}/assignee", "setTicketAssignee",
       "Give a routed ticket to an agent by hand, or to nobody (agent_id null)", "agents",
       body=AssigneeRequest, response=AssigneeResult, errors=(404, 409)),
    Op("get", "/api/analytics/agents", "agentAnalytics", "Open tickets per agent", "analytics",
       response=AgentLoads),
    Op("get", "/api/sla/policy", "getSlaPolicy",
       "The tenant's service-level targets per priority (business minutes)", "sla",
       response=SlaPolicy),
    Op("put", "/api/sla/policy", "putSlaPolicy",
       "Replace the targets (admin); open tickets' clocks follow, counted time stays", "sla",
       body=SlaPolicyUpdate, response=SlaPolicy),
    Op("get", "/api/sla/calendar", "getSlaCalendar",
       "The tenant's business-hours calendar (time zone, weekly hours, holidays)", "sla",
       response=SlaCalendar),
    Op("put", "/api/sla/calendar", "putSlaCalendar",
       "Replace the calendar (admin); open tickets' clocks follow, counted time stays", "sla",
       body=SlaCalendarUpdate, response=SlaCalendar),
    Op("get", "/api/analytics/sla", "slaAnalytics",
       "SLA compliance per department and priority, breaches, first response and resolution "
       "times (p50/p90)", "analytics", response=SlaReport, query=("slaDays",), errors=(400,)),
    Op("get", "/api/sources", "listSources", "The tenant's ingestion sources (no secrets)",
       "integrations", response=SourceList, query=PAGE, errors=(400,)),
    Op("post", "/api/sources", "createSource",
       "Configure a source (admin scope); credentials are stored encrypted, never returned",
       "integrations", body=SourceCreate, response=Source, status=201, errors=(409, 422)),
    Op("get", "/api/sources/{name}", "getSource", "One source", "integrations",
       response=Source, errors=(404,)),
    Op("patch", "/api/sources/{name}", "updateSource",
       "Edit a source (admin scope); reset_cursor re-reads it from the start", "integrations",
       body=SourcePatch, response=Source, errors=(404, 422)),
    Op("delete", "/api/sources/{name}", "deleteSource", "Delete a source (admin scope)",
       "integrations", response=None, status=204, errors=(404,)),
    Op("post", "/api/ingestions", "startIngestion",
       "Start an ingestion job from a source's stored cursor (one per source at a time)",
       "integrations", body=IngestionStart, response=Ingestion, status=202,
       errors=(404, 409)),
    Op("get", "/api/ingestions/{job_id}", "getIngestion",
       "A job: status, pages, counts created/updated/unchanged/failed, errors",
       "integrations", response=Ingestion, errors=(404,)),
    Op("get", "/api/ingestions/{job_id}/logs", "ingestionLogs", "A job's log, oldest first",
       "integrations", response=IngestionLogList, query=PAGE, errors=(400, 404)),
    Op("post", "/api/ingestions/{job_id}/cancel", "cancelIngestion",
       "Cancel a job (a running one stops after its current page)", "integrations",
       response=Ingestion, status=202, errors=(404,)),
    Op("get", "/api/webhooks", "listWebhooks", "The tenant's webhook subscriptions",
       "integrations", response=WebhookList, query=PAGE, errors=(400,)),
    Op("post", "/api/webhooks", "createWebhook",
       "Subscribe a URL to ticket events (admin scope); the signing secret is shown once",
       "integrations", body=WebhookCreate, response=WebhookCreated, status=201,
       errors=(422,)),
    Op("get", "/api/webhooks/{webhook_id}", "getWebhook", "One subscription", "integrations",
       response=Webhook, errors=(404,)),
    Op("patch", "/api/webhooks/{webhook_id}", "updateWebhook",
       "Edit a subscription (admin scope); {\"active\": true} re-enables a disabled one",
       "integrations", body=WebhookPatch, response=Webhook, errors=(404, 422)),
    Op("delete", "/api/webhooks/{webhook_id}", "deleteWebhook",
       "Delete a subscription (admin scope)", "integrations", response=None, status=204,
       errors=(404,)),
    Op("get", "/api/webhooks/{webhook_id}/deliveries", "listDeliveries",
       "A subscription's deliveries, newest first: status, attempts, last response code",
       "integrations", response=DeliveryList, query=PAGE, errors=(400, 404)),
    Op("post", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
       "redeliverDelivery", "Send a delivery again, with the same delivery id (admin scope)",
       "integrations", response=Delivery, status=202, errors=(404,)),
    Op("post", "/api/webhooks/inbound/{source}", "inboundWebhook",
       "A helpdesk's webhook: X-Webhook-Signature (HMAC-SHA256 over timestamp and raw body, "
       "the source's secret) is checked, the body stored and upserted later", "integrations",
       response=InboundAccepted, status=202),
)
