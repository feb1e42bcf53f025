"""Activity around tickets: requesters (users), comments and the audit trail."""
