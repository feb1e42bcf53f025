"""ticketctl: the operator command line of the Ticket Triage Suite."""
