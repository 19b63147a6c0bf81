"""A small dbt project and hand-built Report values for the format, release and hook tests."""

from __future__ import annotations

from typing import Any

from gitrepo import GitRepo
from semverlint.classify import Change, Ignored, Impact
from semverlint.interface import Diagnostic
from semverlint.report import ProjectReport, Report
from semverlint.revisions import RevisionInfo

PROJECT = """\
name: shop
# the version consumers pin
version: {version}
config-version: 2
models:
  shop:
    marts:
      +access: public
"""

ORDERS_SQL = "select 1 as order_id, 'open' as status, 10.5 as amount\n"
ORDERS_YML = """\
version: 2
models:
  - name: orders
    columns:
      - name: order_id
        data_type: int
        data_tests: [not_null, unique]
      - name: status
        data_type: varchar(10)
      - name: amount
        data_type: numeric(10, 2)
"""
WITHOUT_AMOUNT_SQL = "select 1 as order_id, 'open' as status\n"
WITHOUT_AMOUNT_YML = ORDERS_YML.replace(
    "      - name: amount\n        data_type: numeric(10, 2)\n", ""
)


def write_shop(repo: GitRepo, *, version: str = "1.4.0", prefix: str = "") -> None:
    repo.write(f"{prefix}dbt_project.yml", PROJECT.format(version=version))
    repo.write(f"{prefix}models/marts/orders.sql", ORDERS_SQL)
    repo.write(f"{prefix}models/marts/orders.yml", ORDERS_YML)


def drop_amount(repo: GitRepo, *, prefix: str = "") -> None:
    """The breaking change every test makes: a public column removed."""
    repo.write(f"{prefix}models/marts/orders.sql", WITHOUT_AMOUNT_SQL)
    repo.write(f"{prefix}models/marts/orders.yml", WITHOUT_AMOUNT_YML)


# -- Report values built by hand, for the reporters' unit tests -----------------------------


def change(rule: str, bump: Any, column: str | None, message: str, **fields: Any) -> Change:
    values: dict[str, Any] = {
        "model": "orders",
        "path": "models/marts/orders.yml",
        "line": 10,
        "before": None,
        "after": None,
        "access": "public",
        "rule_bump": bump,
    }
    values.update(fields)
    return Change(rule=rule, bump=bump, column=column, message=message, **values)


def sample_project(**fields: Any) -> ProjectReport:
    values: dict[str, Any] = {
        "name": "shop",
        "path": ".",
        "kind": "dbt",
        "declared_base": "1.4.0",
        "declared_head": "1.4.1",
        "required_bump": "major",
        "effective_bump": "major",
        "suggested_version": "2.0.0",
        "ok": False,
        "reasons": (
            "the changes need a major bump but the version went 1.4.0 -> 1.4.1 (patch); "
            "release 2.0.0",
        ),
        "changes": (
            change(
                "column-added", "minor", "is_large", "Column orders.is_large was added.", line=20
            ),
            change(
                "column-removed",
                "major",
                "amount",
                "Column orders.amount was removed; queries that select it fail.",
                line=14,
                impact=(Impact("finance", "revenue", "amount"),),
            ),
            change(
                "column-logic-changed",
                "patch",
                "total",
                "The expression of orders.total changed from a * b to a | b, 100%: ok.",
                path="models/marts/orders.sql",
                line=1,
            ),
            change("description-changed", "none", None, "The description of orders changed."),
            change(
                "column-removed",
                "major",
                "legacy_flag",
                "Column orders.legacy_flag was removed; queries that select it fail.",
                line=30,
                ignored=Ignored("consumers moved to v2 (TICKET-123)", "semverlint.yml"),
            ),
        ),
        "diagnostics": (
            Diagnostic(
                "warning", "cannot parse the SQL of daily", "models/marts/daily.sql", 3, "daily"
            ),
            Diagnostic("error", "unknown macro `cents`", "models/marts/totals.sql", None, "totals"),
        ),
        "version_file": "dbt_project.yml",
        "version_line": 3,
    }
    values.update(fields)
    return ProjectReport(**values)


def sample_report(*projects: ProjectReport) -> Report:
    return Report(
        RevisionInfo("main", "a" * 40),
        RevisionInfo("HEAD", "b" * 40),
        projects if projects else (sample_project(),),
    )
