"""Service levels: per-tenant policies and business-hours calendars, and the clock of each ticket."""
