#!/usr/bin/env python3
"""Time what users run today to find breaking changes: `dbt parse` twice, then a state comparison.

Usage (dbt lives in its own virtual environment: it is not a dependency of semverlint)::

    python3 -m venv /tmp/dbtvenv && /tmp/dbtvenv/bin/pip install dbt-core dbt-duckdb
    python benchmarks/dbt_baseline.py --sizes 100,1000 [--dbt /tmp/dbtvenv/bin/dbt]

For each generated project (see generate.py; reused when present) the ``base`` and
``change50`` trees are exported with ``git archive`` and:

1. ``dbt parse`` at base, 2. ``dbt parse`` at change50 (a DuckDB profile in a
temporary ``--profiles-dir``), 3. ``dbt ls -s state:modified --state <base target>``
in the change50 tree, which is where dbt compares contracts and reports a breaking
change (a warning for an unversioned model, an error for a versioned one).

The sum of the three is dbt's figure. A fourth, untimed ``dbt ls -s
state:modified.contract`` says which models dbt sees as contract changes. Breaking
changes are read from dbt's JSON log (event ``UnversionedBreakingChange``) and
counted against the breaking edits recorded in ``changes.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
import results

PROFILE = """{project}:
  target: bench
  outputs:
    bench:
      type: duckdb
      path: {path}
      threads: 2
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS (KiB, this child: os.wait4), exit code, combined output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return elapsed, usage.ru_maxrss, proc.returncode, text


def export(repo: Path, rev: str, dest: Path) -> None:
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", rev], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {rev} failed")


def events(log: str) -> list[dict[str, Any]]:
    found = []
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def _ls(dbt: str, selector: str, base: Path, common: list[str]) -> list[str]:
    """`dbt ls` of the models `selector` picks against the base's manifest, as JSON logs."""
    return [
        dbt,
        *("--log-format", "json", "ls", "-s", selector, "--resource-type", "model"),
        *("--output", "name", "--state", str(base / "target"), *common),
    ]


def baseline(dbt: str, folder: Path, scratch: Path) -> dict[str, Any]:
    manifest = json.loads((folder / "changes.json").read_text())
    repo = folder / "repo"
    base, head, profiles = scratch / "base", scratch / "head", scratch / "profiles"
    export(repo, "base", base)
    export(repo, "change50", head)
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        PROFILE.format(project=manifest["project"], path=scratch / "bench.duckdb")
    )
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "NO_COLOR": "1",
    }
    common = ["--profiles-dir", str(profiles)]
    figures: dict[str, Any] = {"notes": []}

    steps = {
        "parse_base": ([dbt, "parse", *common], base),
        "parse_head": ([dbt, "parse", *common], head),
        "ls": (_ls(dbt, "state:modified", base, common), head),
    }
    peak = 0
    logs: dict[str, str] = {}
    for name, (cmd, cwd) in steps.items():
        seconds, rss, code, log = run(cmd, cwd, env)
        print(
            f"  {manifest['size']:>5} dbt {name:<10} {seconds:7.2f} s "
            f"{rss / 1024:6.0f} MiB exit {code}",
            file=sys.stderr,
        )
        figures[name] = seconds
        peak = max(peak, rss)
        logs[name] = log
        if code != 0:
            figures["notes"].append(
                f"{manifest['size']} models: `{' '.join(cmd[1:3])}` exited {code}: "
                f"{_last_error(log)}"
            )
            if name.startswith("parse"):
                raise SystemExit(
                    f"dbt parse failed: the generated project must be valid\n{log[-3000:]}"
                )
    figures["total"] = figures["parse_base"] + figures["parse_head"] + figures["ls"]
    figures["peak_rss_kb"] = peak

    ls_events = events(logs["ls"])
    listed = _listed(ls_events)
    flagged: set[str] = set()
    for e in ls_events:
        name = e.get("info", {}).get("name", "")
        data = e.get("data", {})
        if name == "UnversionedBreakingChange":
            flagged.add(str(data.get("model_name")))
        elif "Breaking Change to Contract" in str(data) or "ContractBreakingChange" in name:
            m = re.search(r"model\.[\w]+\.(\w+)", json.dumps(data))
            flagged.add(m.group(1) if m else "?")
    figures["modified"] = len(listed)

    # Which models dbt calls contract changes (any edit of a contract, additions too): untimed.
    _, _, _, contract_log = run(_ls(dbt, "state:modified.contract", base, common), head, env)
    contract = _listed(events(contract_log))

    breaking = [c for c in manifest["changes"] if c["breaking"]]
    recorded = {c["model"] for c in manifest["changes"]}
    figures["breaking"] = len(breaking)
    figures["breaking_flagged"] = sum(1 for c in breaking if c["model"] in flagged)
    figures["contract_selected"] = sum(1 for c in breaking if c["model"] in contract)
    figures["flagged_not_breaking"] = sorted(
        f"{c['kind']} {c['model']}"
        for c in manifest["changes"]
        if not c["breaking"] and c["model"] in flagged
    ) + sorted(m for m in flagged if m not in recorded)
    figures["missed"] = sorted(
        f"{c['kind']} ({c['layer']}{', ' + c['before'] if c['kind'] == 'not_null_removed' else ''})"
        for c in breaking
        if c["model"] not in flagged
    )

    def of_kind(kind: str) -> list[dict[str, Any]]:
        return [c for c in breaking if c["kind"] == kind]

    figures["by_kind"] = {
        kind: f"{sum(1 for c in of_kind(kind) if c['model'] in flagged)}/{len(of_kind(kind))}"
        for kind in sorted({c["kind"] for c in breaking})
    }
    if figures["flagged_not_breaking"]:
        kinds = sorted({x.split()[0] for x in figures["flagged_not_breaking"]})
        figures["notes"].append(
            f"{manifest['size']} models: dbt also called {len(figures['flagged_not_breaking'])} "
            f"non-breaking edits breaking ({', '.join(kinds)}): "
            "a contract compares type names, so a widening counts"
        )
    figures["notes"].append(
        f"{manifest['size']} models: breaking edits dbt flagged, by kind: "
        + ", ".join(f"{k} {v}" for k, v in figures["by_kind"].items())
    )
    return figures


def _listed(found: list[dict[str, Any]]) -> set[str]:
    """Node names `dbt ls --output name` printed (event ListCmdOut, PrintEvent since dbt 1.9)."""
    return {
        str(e["data"]["msg"]).strip()
        for e in found
        if e.get("info", {}).get("name") in ("ListCmdOut", "PrintEvent")
        and e.get("data", {}).get("msg")
    }


def _last_error(log: str) -> str:
    lines = [line for line in log.splitlines() if "rror" in line]
    return (lines[-1] if lines else log.strip().splitlines()[-1] if log.strip() else "")[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,1000", help="comma-separated project sizes (default 100,1000)"
    )
    parser.add_argument(
        "--dbt",
        default="/tmp/dbtvenv/bin/dbt",
        help="the dbt executable (default /tmp/dbtvenv/bin/dbt)",
    )
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument(
        "--work", type=Path, help="where projects are generated (default: $TMPDIR/semverlint-bench)"
    )
    args = parser.parse_args(argv)

    if not Path(args.dbt).exists():
        sys.exit(
            f"{args.dbt} not found: install dbt-core and dbt-duckdb "
            "in their own virtual environment (see --help)"
        )
    version = subprocess.run([args.dbt, "--version"], capture_output=True, text=True).stdout
    core = re.search(r"installed:\s*(\S+)", version)
    duck = re.search(r"duckdb:\s*(\S+)", version)
    dbt_version = (
        f"dbt-core {core.group(1) if core else '?'}, dbt-duckdb {duck.group(1) if duck else '?'}"
    )
    work = args.work or Path(tempfile.gettempdir()) / "semverlint-bench"
    sizes = [int(s) for s in args.sizes.split(",") if s]

    data = results.load()
    previous = data.get("dbt", {}).get("sizes", {})
    part: dict[str, Any] = {
        "machine": results.machine(str(Path(args.dbt).parent / "python")),
        "date": dt.date.today().isoformat(),
        "command": "python benchmarks/dbt_baseline.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "dbt_version": dbt_version,
        "sizes": {k: v for k, v in previous.items() if int(k) not in sizes},
    }
    for size in sizes:
        folder = work / str(size)
        manifest_path = folder / "changes.json"
        if not manifest_path.exists() or json.loads(manifest_path.read_text())["seed"] != args.seed:
            generate.generate(size, args.seed, folder)
        with tempfile.TemporaryDirectory(prefix=f"dbt-baseline-{size}-") as scratch:
            figures = baseline(args.dbt, folder, Path(scratch))
        part["sizes"][str(size)] = {"command": part["command"], "date": part["date"], **figures}
    data["dbt"] = part
    results.save(data)
    print(results.render({"dbt": part, "semverlint": data.get("semverlint")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
