"""Lineage, access and versions through the CLI: changes classified where consumers see them."""

from __future__ import annotations

import pytest

from clirun import semverlint
from gitrepo import GitRepo

PROJECT = """\
name: shop
version: 1.0.0
models:
  shop:
    staging: {+access: private}
    intermediate: {+access: private}
    marts: {+access: public}
"""
SOURCES = """\
sources:
  - name: raw
    tables:
      - name: orders
        columns: [{name: id}, {name: amount}, {name: status}]
"""
STG = (
    "select id as order_id, cast(amount as int) as amount, status "
    "from {{ source('raw', 'orders') }}\n"
)


@pytest.fixture
def chain(git_repo: GitRepo) -> GitRepo:
    """raw -> stg_orders (private) -> int_orders (private, select *) -> orders (public,
    select *)."""
    git_repo.write("dbt_project.yml", PROJECT)
    git_repo.write("models/staging/_sources.yml", SOURCES)
    git_repo.write("models/staging/stg_orders.sql", STG)
    git_repo.write("models/intermediate/int_orders.sql", "select * from {{ ref('stg_orders') }}\n")
    git_repo.write("models/marts/orders.sql", "select * from {{ ref('int_orders') }}\n")
    git_repo.write(
        "models/marts/order_status.sql",
        "select o.order_id, o.status from {{ ref('stg_orders') }} as o\n",
    )
    git_repo.write(
        "models/marts/doubled.sql",
        "select order_id, amount * 2 as double_amount from {{ ref('orders') }}\n",
    )
    git_repo.commit("base")
    return git_repo


def _changes(repo: GitRepo) -> dict[tuple[str, str, str | None], dict[str, object]]:
    report = semverlint("diff", "--repo", repo.path, "--format", "json").json
    return {(c["rule"], c["model"], c["column"]): c for c in report["projects"][0]["changes"]}


def test_a_change_at_the_bottom_of_a_private_chain_is_classified_on_the_public_model(
    chain: GitRepo,
) -> None:
    chain.write("models/staging/stg_orders.sql", STG.replace(", status", ""))
    found = _changes(chain)
    public = found[("column-removed", "orders", "status")]
    assert (public["bump"], public["access"]) == ("major", "public")
    assert public["via"] == ["stg_orders", "int_orders"]
    private = found[("column-removed", "stg_orders", "status")]
    assert (private["bump"], private["rule_bump"]) == ("patch", "major")
    assert found[("column-removed", "int_orders", "status")]["bump"] == "patch"


def test_a_model_reading_a_removed_upstream_column_breaks(chain: GitRepo) -> None:
    chain.write("models/staging/stg_orders.sql", STG.replace(", status", ""))
    broken = _changes(chain)[("upstream-column-removed", "order_status", "status")]
    assert broken["bump"] == "major"
    assert broken["before"] == "stg_orders.status"


def test_a_type_passed_through_reaches_the_mart_and_lists_its_consumers(chain: GitRepo) -> None:
    chain.write("models/staging/stg_orders.sql", STG.replace("as int", "as varchar"))
    changed = _changes(chain)[("column-type-changed", "orders", "amount")]
    assert changed["via"] == ["stg_orders", "int_orders"]
    assert changed["impact"] == [{"project": "shop", "model": "doubled", "column": "double_amount"}]
    text = semverlint("diff", "--repo", chain.path).stdout
    assert "via stg_orders -> int_orders" in text
    assert "breaks doubled.double_amount" in text


def test_a_private_change_that_reaches_no_public_model_is_at_most_patch(chain: GitRepo) -> None:
    chain.write(
        "models/intermediate/int_orders.sql",
        "select order_id, amount, status from {{ ref('stg_orders') }} where amount > 0\n",
    )
    project = semverlint("check", "--repo", chain.path, "--format", "json").json["projects"][0]
    assert project["required_bump"] == "patch"
    assert {c["model"] for c in project["changes"] if c["rule_bump"] != "none"} == {"int_orders"}


def test_impact_crosses_projects_of_the_same_repository(chain: GitRepo) -> None:
    chain.write("finance/dbt_project.yml", "name: finance\nversion: 3.0.0\n")
    chain.write("finance/dependencies.yml", "projects:\n  - name: shop\n")
    chain.write(
        "finance/models/revenue.sql",
        "select sum(amount) as revenue from {{ ref('shop', 'orders') }}\n",
    )
    chain.commit("finance reads shop")
    chain.write("models/marts/orders.sql", "select order_id, status from {{ ref('int_orders') }}\n")
    report = semverlint("diff", "--repo", chain.path, "--format", "json").json
    shop = next(p for p in report["projects"] if p["name"] == "shop")
    removed = next(
        c for c in shop["changes"] if c["rule"] == "column-removed" and c["model"] == "orders"
    )
    assert {"project": "finance", "model": "revenue", "column": "revenue"} in removed["impact"]
    assert {"project": "shop", "model": "doubled", "column": "double_amount"} in removed["impact"]


VERSIONED = """\
models:
  - name: customers
    latest_version: 2
    config:
      contract: {{enforced: true}}
    columns:
      - name: customer_id
        data_type: int
      - name: email
        data_type: varchar(100)
    versions:
      - v: 1
{v1_extra}      - v: 2
"""


@pytest.fixture
def versioned(git_repo: GitRepo) -> GitRepo:
    git_repo.write("dbt_project.yml", PROJECT)
    git_repo.write("models/marts/customers_v1.sql", "select 1 as customer_id, 'a' as email\n")
    git_repo.write("models/marts/customers_v2.sql", "select 1 as customer_id, 'a' as email\n")
    git_repo.write("models/marts/customers.yml", VERSIONED.format(v1_extra=""))
    git_repo.write(
        "models/marts/accounts.sql", "select customer_id from {{ ref('customers', v=1) }}\n"
    )
    git_repo.commit("versioned customers")
    return git_repo


def test_a_breaking_edit_to_an_existing_version_must_be_a_new_version(versioned: GitRepo) -> None:
    versioned.write(
        "models/marts/customers.yml", VERSIONED.format(v1_extra="").replace("varchar(100)", "int")
    )
    versioned.write("dbt_project.yml", PROJECT.replace("1.0.0", "2.0.0"))
    result = semverlint("check", "--repo", versioned.path, "--format", "json")
    assert result.code == 1
    reasons = result.json["projects"][0]["reasons"]
    assert any("- v: 3" in r and "customers.v2" in r for r in reasons), reasons


def test_version_added_removed_and_latest_moved(versioned: GitRepo) -> None:
    versioned.write("models/marts/customers_v3.sql", "select 1 as customer_id\n")
    versioned.write(
        "models/marts/customers.yml",
        VERSIONED.format(v1_extra="").replace("latest_version: 2", "latest_version: 3")
        + "      - v: 3\n        columns:\n"
        + "          - include: all\n            exclude: [email]\n",
    )
    found = _changes(versioned)
    assert found[("model-version-added", "customers.v3", None)]["bump"] == "minor"
    moved = found[("latest-version-moved", "customers", None)]
    assert moved["bump"] == "major"
    assert "column-removed" in str(moved["message"])


def test_removing_a_version_past_its_deprecation_date_is_not_breaking(versioned: GitRepo) -> None:
    versioned.write(
        "models/marts/customers.yml",
        VERSIONED.format(v1_extra="        deprecation_date: 2021-01-01\n"),
    )
    versioned.commit("deprecate v1")
    (versioned.path / "models/marts/customers_v1.sql").unlink()
    versioned.write(
        "models/marts/accounts.sql", "select customer_id from {{ ref('customers', v=2) }}\n"
    )
    found = _changes(versioned)
    assert found[("model-version-retired", "customers.v1", None)]["bump"] == "minor"


SEMANTIC = """\
semantic_models:
  - name: orders_sm
    model: ref('orders')
    entities:
      - {name: order, type: primary, expr: order_id}
    dimensions:
      - {name: status, type: categorical}
    measures:
      - {name: order_total, agg: sum, expr: amount}
metrics:
  - name: revenue
    type: simple
    type_params: {measure: order_total}
exposures:
  - name: weekly_dashboard
    type: dashboard
    owner: {name: finance}
    depends_on: [ref('orders')]
"""


def test_semantic_layer_and_exposures(chain: GitRepo) -> None:
    chain.write("models/marts/semantic.yml", SEMANTIC)
    chain.commit("semantic layer")
    chain.write(
        "models/marts/semantic.yml",
        SEMANTIC.replace("      - {name: status, type: categorical}\n", "").replace(
            "metrics:\n  - name: revenue\n    type: simple\n"
            "    type_params: {measure: order_total}\n",
            "",
        ),
    )
    chain.write("models/marts/orders.sql", "select order_id, status from {{ ref('int_orders') }}\n")
    found = _changes(chain)
    assert found[("column-removed", "orders_sm", "status")]["bump"] == "major"
    removed = found[("model-removed", "revenue", None)]
    assert removed["bump"] == "major"
    assert removed["message"].startswith("Metric revenue was removed")
    amount = found[("column-removed", "orders", "amount")]
    dashboard = {"project": "shop", "model": "exposure:weekly_dashboard", "column": None}
    assert dashboard in amount["impact"]


SNAPSHOT = """\
{% snapshot orders_snapshot %}
{{ config(target_schema='snapshots', unique_key='order_id', strategy='check', check_cols='all') }}
select order_id, status, amount from {{ ref('stg_orders') }}
{% endsnapshot %}
"""


def test_snapshots_are_interface_with_dbt_validity_columns(chain: GitRepo) -> None:
    chain.write("snapshots/orders_snapshot.sql", SNAPSHOT)
    chain.write(
        "snapshots/snapshots.yml",
        "snapshots:\n  - name: orders_snapshot\n    config: {access: public}\n",
    )
    chain.commit("snapshot")
    chain.write("snapshots/orders_snapshot.sql", SNAPSHOT.replace(", amount", ""))
    found = _changes(chain)
    removed = found[("column-removed", "orders_snapshot", "amount")]
    assert (removed["bump"], removed["access"]) == ("major", "public")
    report = semverlint("diff", "HEAD~1..HEAD~1", "--repo", chain.path, "--format", "json").json
    assert report["projects"][0]["changes"] == []
    chain.write(
        "snapshots/orders_snapshot.sql",
        SNAPSHOT.replace("select order_id", "select 1 as extra, order_id"),
    )
    added = _changes(chain)
    assert ("column-added", "orders_snapshot", "extra") in added
    assert not [k for k in added if k[2] in ("dbt_valid_from", "dbt_valid_to")]
