"""Campaign scheduling: calendars (campaigns.py), the plan (plan.py), sweep runs (runs.py), alerts (alerts.py),
the `netsword schedule` commands (commands.py). The long-running process is the top-level scheduler.py."""
