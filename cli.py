"""netsword: one command for the whole sweep.

Each room brings its own commands (``<package>/commands.py``); this module only gathers them.
"""

from __future__ import annotations

import click

from crawler.commands import crawl, demo
from leads.commands import export, search
from pipelines.commands import rules


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """netsword — 网剑行动 marketplace sweeps for market regulators."""


for command in (demo, crawl, search, export, rules):
    main.add_command(command)


if __name__ == "__main__":
    main()
