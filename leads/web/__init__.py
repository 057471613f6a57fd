"""The analyst console: FastAPI + server-rendered Jinja2 pages over the ``leads`` functions.

``app.py`` builds the application (config, sessions, security headers), ``auth.py`` logs
users in and guards every other route (login required, CSRF token on every POST),
``views.py`` holds the pages, each a thin call into ``leads``; ``render.py`` the template
environment and the filters that make scraped text safe to show.
"""
