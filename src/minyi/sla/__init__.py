"""Service-level agreements: calendars, deadlines, timers and escalation."""
