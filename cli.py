"""netsword: one command for the whole sweep.

Each room brings its own commands (``<package>/commands.py``); this module only gathers them.
"""

from __future__ import annotations

import click

from crawler.commands import crawl, demo, evidence, profile
from leads.commands import export, report, rules_stats, search, serve, user
from pipelines.match.commands import rescan, rules
from pipelines.store.commands import index
from scheduling.commands import schedule


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """netsword — 网剑行动 marketplace sweeps for market regulators."""


for command in (demo, crawl, search, export, rules, rescan, report, user, serve, index, profile, evidence, schedule):
    main.add_command(command)
rules.add_command(rules_stats)  # `netsword rules stats`: per-rule precision from triage (leads room)


if __name__ == "__main__":
    main()
