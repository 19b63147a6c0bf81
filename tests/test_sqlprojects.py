"""Plain SQL projects (semverlint.yml beside DDL and SELECT files) through the CLI."""

from __future__ import annotations

import pytest

from clirun import changes, semverlint
from gitrepo import GitRepo

CREATE = """\
create table customers (id int primary key, email varchar(100) unique);
create table orders (
  id int primary key,
  customer_id int references customers (id),
  amount numeric(10, 2) not null,
  status varchar(20) check (status in ('open', 'shipped'))
);
create view big_orders as select id, amount from orders where amount > 100;
"""


@pytest.fixture
def warehouse(git_repo: GitRepo) -> GitRepo:
    git_repo.write("semverlint.yml", "name: warehouse\nversion: 1.2.0\ndialect: postgres\n")
    git_repo.write("ddl/001_create.sql", CREATE)
    git_repo.write("queries/order_status.sql", "select id, status from orders\n")
    git_repo.commit("base")
    return git_repo


def _diff(repo: GitRepo) -> list[tuple[str, str, str | None]]:
    report = semverlint("diff", "--repo", repo.path, "--format", "json").json
    assert report["projects"][0]["kind"] == "sql"
    return changes(report)


def test_alter_table_in_a_later_file_applies_to_the_net_schema(warehouse: GitRepo) -> None:
    warehouse.write(
        "ddl/002_alter.sql",
        "alter table orders alter column amount drop not null;\n"
        "alter table orders add column note text;\n"
        "alter table orders drop column status;\n",
    )
    found = _diff(warehouse)
    assert ("not-null-removed", "orders", "amount") in found
    assert ("column-added", "orders", "note") in found
    assert ("column-removed", "orders", "status") in found


def test_a_query_reading_a_dropped_column_breaks(warehouse: GitRepo) -> None:
    warehouse.write("ddl/002_alter.sql", "alter table orders drop column status;\n")
    found = _diff(warehouse)
    assert ("upstream-column-removed", "order_status", "status") in found
    assert ("column-logic-changed", "order_status", "status") not in found


def test_constraints_types_and_views(warehouse: GitRepo) -> None:
    warehouse.write(
        "ddl/001_create.sql",
        CREATE.replace("email varchar(100) unique", "email varchar(200)")
        .replace("int references customers (id)", "int")
        .replace("amount > 100", "amount > 500")
        .replace("check (status in ('open', 'shipped'))", ""),
    )
    found = _diff(warehouse)
    assert ("unique-removed", "customers", "email") in found
    assert ("column-type-widened", "customers", "email") in found
    assert ("relationship-removed", "orders", "customer_id") in found
    assert ("check-removed", "orders", "status") in found
    assert ("model-logic-changed", "big_orders", None) in found


def test_reformatting_ddl_is_no_change_and_version_is_read_from_config(warehouse: GitRepo) -> None:
    warehouse.write(
        "ddl/001_create.sql", CREATE.upper().replace("'OPEN', 'SHIPPED'", "'open', 'shipped'")
    )
    warehouse.write("semverlint.yml", "name: warehouse\nversion: 1.2.1\ndialect: postgres\n")
    report = semverlint("check", "--repo", warehouse.path, "--format", "json")
    assert report.code == 0
    project = report.json["projects"][0]
    assert project["declared"] == {"base": "1.2.0", "head": "1.2.1"}
    assert [c for c in project["changes"] if c["bump"] != "none"] == []


def test_a_broken_statement_is_a_diagnostic_and_the_rest_still_applies(warehouse: GitRepo) -> None:
    warehouse.write(
        "ddl/002_alter.sql", "alter table orders add column qty int;\ncreate table (;\n"
    )
    report = semverlint("diff", "--repo", warehouse.path, "--format", "json").json
    assert ("column-added", "orders", "qty") in changes(report)
    assert any(d["path"] == "ddl/002_alter.sql" for d in report["projects"][0]["diagnostics"])
