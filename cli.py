"""netsword: one command for the whole sweep.

Each room brings its own commands (``<package>/commands.py``); this module only gathers them,
and turns the problems a user can fix into one line with what to do (no tracebacks): a file
written by a person (rule pack, site profile, campaign, config file: file:line), a store that
cannot be reached (which one, and how to point at another). Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import click

from crawler.bazaar.commands import bazaar
from crawler.commands import crawl, demo, evidence, profile, recheck
from crawler.distributed.commands import runs, worker
from crawler.login import login
from leads.commands import export, report, rules_stats, rules_suggest, search, serve, user
from leads.lead_commands import leads
from leads.records.commands import evidence_notice, evidence_record, evidence_wacz
from netsword.yamlsource import SourceError
from pipelines.evidence.commands import keys
from pipelines.images.commands import ocr
from pipelines.match.commands import rescan, rules
from pipelines.store import StoreUnavailable
from pipelines.store.base import StoreBusy
from pipelines.store.commands import index
from scheduling.commands import schedule

#: exit status of a problem in a file a person wrote, and of a store that cannot be reached
EXIT_SOURCE, EXIT_STORE = 2, 3


def _transport_error(exc: BaseException) -> bool:
    """An Elasticsearch (or OpenSearch) client error that means the cluster cannot be reached."""
    return type(exc).__module__.startswith(("elastic_transport", "opensearchpy")) and "Connection" in type(exc).__name__


class NetswordGroup(click.Group):
    """The top-level group: user-fixable errors become one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SourceError as exc:
            click.echo(f"netsword: {exc}", err=True)
            ctx.exit(EXIT_SOURCE)
        except StoreUnavailable as exc:
            click.echo(f"netsword: {exc}\n  存储不可用：启动它，或用 NETSWORD_STORE / --store 指向可用的存储 / "
                       "start it, or point NETSWORD_STORE (or --store) at a store that runs", err=True)
            ctx.exit(EXIT_STORE)
        except StoreBusy as exc:
            click.echo(f"netsword: {exc}\n  数据库正忙，本次操作没有保存，请稍后重试 / "
                       "the store is busy: nothing was saved, try again", err=True)
            ctx.exit(EXIT_STORE)
        except sqlite3.OperationalError as exc:
            click.echo(f"netsword: the SQLite store cannot be used: {exc} (is the file readable and writable, "
                       "and the disk not full?)", err=True)
            ctx.exit(EXIT_STORE)
        except Exception as exc:
            if not _transport_error(exc):
                raise
            click.echo(f"netsword: Elasticsearch cannot be reached ({type(exc).__name__}); start it, or point "
                       "NETSWORD_STORE (or --store) at a cluster that runs", err=True)
            ctx.exit(EXIT_STORE)


@click.group(cls=NetswordGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """netsword — 网剑行动 marketplace sweeps for market regulators."""


for command in (demo, crawl, search, export, rules, rescan, report, user, serve, index, profile, evidence, keys,
                schedule, recheck, worker, runs, ocr, leads, login, bazaar):
    main.add_command(command)
rules.add_command(rules_stats)  # `netsword rules stats`: per-rule precision from triage (leads room)
rules.add_command(rules_suggest)  # `netsword rules suggest`: candidate terms and unless contexts from triage
for command in (evidence_wacz, evidence_record, evidence_notice):  # lead documents (leads room)
    evidence.add_command(command)


if __name__ == "__main__":
    main()
