"""Realistic demo tickets for ``ticketctl seed-demo``: templates per department, filled in.

Ticket ``i`` of seed ``s`` depends only on (s, i): the same seed gives the same tickets and
the same idempotency keys, so seeding again creates nothing twice, and a larger N only adds.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

from .importer import TicketRequest

FIRST_NAMES = ("Amira", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines",
               "Jonas", "Kemi", "Lars", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa",
               "Samir", "Tess", "Umar", "Vera", "Wei", "Yara", "Zoe")
LAST_NAMES = ("Adeyemi", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen",
              "Ivanova", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "O'Brien", "Patel",
              "Rossi", "Schmidt", "Tanaka", "Urban", "Virtanen", "Walsh", "Yilmaz", "Zhang")
DOMAINS = ("example.com", "example.org", "example.net")
OPENINGS = ("", "Hi, ", "Hello, ", "Good morning, ", "Hi team, ", "Dear support, ")
CLOSINGS = ("", "Thanks!", "Thank you.", "Thanks, {first}", "Best regards, {first} {last}",
            "This is blocking my work today.", "No rush, but please have a look this week.")
PRIORITY_WEIGHTS = (("low", 25), ("medium", 45), ("high", 22), ("critical", 8))
DEPARTMENT_WEIGHTS = (("IT Support", 35), ("HR", 20), ("Facilities", 20), ("Finance", 18),
                      ("General", 7))

SLOTS: dict[str, tuple[str, ...]] = {
    "app": ("Outlook", "Teams", "the VPN client", "SAP", "Jira", "Excel", "Zoom", "Salesforce"),
    "device": ("laptop", "docking station", "second monitor", "headset", "keyboard", "phone"),
    "error": ("keeps freezing", "will not start", "crashes on open", "is extremely slow",
              "shows a licence error"),
    "room": ("meeting room 2.14", "the 3rd floor kitchen", "the east stairwell",
             "meeting room B", "the open-plan area on floor 4", "the ground floor toilets"),
    "fault": ("the heating is not working", "a ceiling light is flickering",
              "the door badge reader is broken", "there is a water leak",
              "the air conditioning is too cold", "the blinds are stuck"),
    "month": ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"),
    "amount": ("42.80", "129.00", "315.50", "87.25", "1,240.00", "560.10"),
    "vendor": ("Office Depot", "the catering supplier", "our travel agency", "Acme Cloud",
               "the print shop"),
    "leave": ("parental leave", "annual leave", "a sabbatical", "unpaid leave", "sick leave"),
    "course": ("the GDPR refresher", "first-aid training", "the leadership programme",
               "the Python workshop"),
}

TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "IT Support": (
        ("{app} {error}", "Since this morning {app} {error} on my {device}. I restarted twice "
                          "and cleared the cache, but it still happens. Error code 0x80{n}."),
        ("Password reset for {app}", "I was locked out of {app} after my password expired. "
                                     "Please reset it; I need access for a client call at {hour}."),
        ("New {device} not recognised", "The new {device} I received is not detected by my "
                                        "laptop. Drivers seem up to date. Asset tag IT-{n}."),
        ("No network on floor {floor}", "Several of us on floor {floor} have had no wired network "
                                        "since {hour}. Wi-Fi works but is very slow."),
        ("Access request: shared drive", "Please give me read/write access to the Projects "
                                         "share for the Q{q} audit. My manager has approved."),
    ),
    "HR": (
        ("Question about {leave}", "I am planning {leave} from {month}. Could you tell me how "
                                   "many days I have left and what forms I need to submit?"),
        ("Update my bank details", "I changed banks in {month}. Where do I update the account "
                                   "details HR has on file? I do not want to miss a payment."),
        ("Enrolment in {course}", "I would like to enrol in {course} next quarter. Is there "
                                  "still a place, and does my manager need to approve it?"),
        ("Employment certificate needed", "For my apartment rental I need an employment "
                                          "certificate stating my start date and contract type "
                                          "by {month} {day}."),
        ("Onboarding for new starter", "A new colleague joins my team on {month} {day}. Please "
                                       "send the onboarding checklist and contract documents."),
    ),
    "Facilities": (
        ("Problem in {room}", "In {room} {fault}. It has been like this since {hour} and "
                              "people are starting to avoid the area."),
        ("Desk booking not possible", "The desk booking system shows no free desks on floor "
                                      "{floor} although the floor is half empty. Can you check?"),
        ("Parking permit renewal", "My parking permit (no. P-{n}) expires at the end of "
                                   "{month}. How do I renew it for next year?"),
        ("Cleaning needed in {room}", "Something sticky was spilled on the floor in {room}. "
                                      "Could the cleaning team come by today?"),
        ("Broken chair at desk {floor}.{n}", "The height adjustment of my office chair is "
                                             "broken and it sinks all day. Please replace it."),
    ),
    "Finance": (
        ("Expense claim not reimbursed", "My expense claim of EUR {amount} from {month} is "
                                         "still not reimbursed. Receipts were attached."),
        ("Invoice from {vendor} overdue", "{vendor} says invoice INV-{n} for EUR {amount} is "
                                          "overdue. Can you confirm whether it was paid?"),
        ("Payslip for {month} looks wrong", "My {month} payslip shows less overtime than I "
                                            "worked. Could payroll check the hours again?"),
        ("Budget code for Q{q} purchases", "Which cost centre should I use for the Q{q} "
                                           "team purchases? The old code is rejected."),
        ("Corporate card limit", "My corporate card was declined for EUR {amount} at "
                                 "{vendor}. Can the limit be raised for the conference trip?"),
    ),
    "General": (
        ("Where do I send feedback?", "I have some suggestions about {app} and the new "
                                      "intranet. Who should I contact, and is there a form?"),
        ("Lost and found", "I left a black umbrella in {room} on {month} {day}. Has anyone "
                           "handed it in?"),
        ("Visitor registration", "A guest from a partner company visits on {month} {day} "
                                 "at {hour}. How do I register them at reception?"),
    ),
}


@dataclass(frozen=True)
class DemoTicket:
    department: str
    body: dict[str, str]


def demo_ticket(seed: int, index: int) -> DemoTicket:
    """Ticket ``index`` of ``seed``: a department, a filled template, a requester, a priority."""
    rng = random.Random(f"ticketctl-seed-demo:{seed}:{index}")
    departments, shares = zip(*DEPARTMENT_WEIGHTS)
    department = rng.choices(departments, shares)[0]
    title, description = rng.choice(TEMPLATES[department])
    values = {name: rng.choice(options) for name, options in SLOTS.items()}
    values.update(n=str(rng.randint(1000, 9999)), floor=str(rng.randint(1, 6)),
                  q=str(rng.randint(1, 4)), day=str(rng.randint(1, 28)),
                  hour=f"{rng.randint(8, 17)}:{rng.choice(('00', '15', '30', '45'))}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "")
    priorities, weights = zip(*PRIORITY_WEIGHTS)
    title = title.format(**values)
    values.update(first=first, last=last)
    opening = rng.choice(OPENINGS)
    text = description.format(**values)
    text = opening + (text[:1].lower() + text[1:] if opening and text[:2] != "I " else text)
    closing = rng.choice(CLOSINGS).format(**values)
    body = {
        "title": title[:1].upper() + title[1:],
        "description": f"{text} {closing}".strip(),
        "user_name": f"{first} {last}",
        "user_email": f"{local}@{rng.choice(DOMAINS)}",
        "priority": rng.choices(priorities, weights)[0],
    }
    return DemoTicket(department, body)


def demo_requests(count: int, seed: int) -> Iterator[TicketRequest]:
    for index in range(count):
        ticket = demo_ticket(seed, index)
        yield TicketRequest(index + 1, f"ticketctl-seed-demo-{seed}-{index}", ticket.body)
