#!/usr/bin/env python3
"""Time the semverlint CLI as whole processes on generated dbt projects and write RESULTS.md.

Usage::

    python benchmarks/run.py --sizes 100,1000,5000     # the full run
    python benchmarks/run.py --quick                   # 100 models only
    python benchmarks/run.py --sizes 1000 --profile    # also cProfile one cold diff

Each scenario runs the installed ``semverlint`` (the one beside this interpreter,
or ``--semverlint PATH``) in a child process: wall time is the median of up to
``--runs`` runs (fewer once a scenario has used ``--budget`` seconds), peak
memory is the child's ``ru_maxrss`` from ``os.wait4``. Timing lives here, never in
the test suite.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
import results

GB_KB = 1024 * 1024


@dataclass(frozen=True)
class Scenario:
    name: str
    args: tuple[str, ...]
    repo: str  # "repo" or a staged clone's folder, relative to the size's folder
    target: float
    cache: str  # "cold", "warm"


SCENARIOS = (
    Scenario("check --staged, one model changed", ("check", "--staged"), "staged-one", 0.4, "cold"),
    Scenario(
        "check --staged, only README changed", ("check", "--staged"), "staged-readme", 0.25, "cold"
    ),
    Scenario("diff base..change50 cold", ("diff", "base..change50"), "repo", 1.5, "cold"),
    Scenario("diff base..reformat cold", ("diff", "base..reformat"), "repo", 15.0, "cold"),
    Scenario("diff base..reformat warm", ("diff", "base..reformat"), "repo", 1.5, "warm"),
)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # user + system seconds of the child
    max_rss_kb: int
    exit: int
    stdout: Path
    stderr: Path


def run_once(cmd: list[str], env: dict[str, str], scratch: Path, tag: str) -> Run:
    """One child: wall time, CPU, its own peak RSS (os.wait4), exit code; output in files."""
    stdout, stderr = scratch / f"{tag}.out", scratch / f"{tag}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return Run(
        elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode, stdout, stderr
    )


class Bench:
    def __init__(self, cli: str, runs: int, budget: float, scratch: Path) -> None:
        self.cli = cli
        self.runs = runs
        self.budget = budget
        self.scratch = scratch
        help_text = subprocess.run(
            [cli, "diff", "--help"], capture_output=True, text=True, env=_env(None)
        ).stdout
        self.has_no_cache = "--no-cache" in help_text
        self.has_cache_dir = "--cache-dir" in help_text
        self.cached = self.has_no_cache or self.has_cache_dir

    def cache_note(self) -> str:
        if not self.cached:
            return (
                "no cache yet (`semverlint diff --help` lists neither `--no-cache` nor "
                "`--cache-dir`): every run is cold, warm rows are skipped"
            )
        how = (
            "`--cache-dir` pointing at"
            if self.has_cache_dir
            else "`SEMVERLINT_CACHE_DIR` and `XDG_CACHE_HOME` set to"
        )
        return (
            f"cold = {how} a new empty folder per run; "
            "warm = the same folder after one untimed priming run"
        )

    def command(self, s: Scenario, repo: Path, cache_dir: Path) -> list[str]:
        cmd = [self.cli, *s.args, "--repo", str(repo), "--format", "json"]
        if self.has_cache_dir:
            cmd += ["--cache-dir", str(cache_dir)]
        return cmd

    def measure(self, size: int, s: Scenario, folder: Path) -> dict[str, Any]:
        row: dict[str, Any] = {
            "scenario": s.name,
            "target": s.target,
            "args": list(s.args),
            "repo": s.repo,
        }
        if s.cache == "warm" and not self.cached:
            row["skipped"] = "no cache yet"
            return row
        repo = folder / s.repo
        warm_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=self.scratch))
        if s.cache == "warm":
            prime = run_once(
                self.command(s, repo, warm_dir), _env(warm_dir), self.scratch, f"{size}-prime"
            )
            row["prime_seconds"] = prime.seconds
        runs: list[Run] = []
        loads: list[float] = []
        spent = 0.0
        while len(runs) < self.runs and (not runs or spent + runs[-1].seconds <= self.budget):
            cache_dir = (
                warm_dir
                if s.cache == "warm"
                else Path(tempfile.mkdtemp(prefix="cache-", dir=self.scratch))
            )
            tag = f"{size}-{s.repo}-{'-'.join(s.args).replace('.', '_')}-{s.cache}-{len(runs)}"
            loads.append(os.getloadavg()[0])
            run = run_once(self.command(s, repo, cache_dir), _env(cache_dir), self.scratch, tag)
            loads.append(os.getloadavg()[0])
            runs.append(run)
            spent += run.seconds
            print(
                f"  {size:>5} {s.name:<40} run {len(runs)}: "
                f"{run.seconds:7.2f} s (cpu {run.cpu:6.2f} s) "
                f"{run.max_rss_kb / 1024:6.0f} MiB exit {run.exit}",
                file=sys.stderr,
            )
            if run.exit not in (0, 1):
                break
        times = [r.seconds for r in runs]
        median = statistics.median(times)
        peak = max(r.max_rss_kb for r in runs)
        exits = [r.exit for r in runs]
        ok = median <= s.target and peak <= GB_KB and all(e in (0, 1) for e in exits)
        row.update(
            times=times,
            median=median,
            cpu_median=statistics.median(r.cpu for r in runs),
            peak_rss_kb=peak,
            exits=exits,
            load=statistics.mean(loads),
            result="error" if any(e not in (0, 1) for e in exits) else "pass" if ok else "fail",
        )
        if any(e not in (0, 1) for e in exits):
            row["stderr"] = runs[-1].stderr.read_text()[-2000:]
        row["_stdout"] = str(runs[0].stdout)
        return row


def _env(cache_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMVERLINT_")}
    env.update(NO_COLOR="1", COLUMNS="200", GIT_CONFIG_NOSYSTEM="1")
    if cache_dir is not None:
        # The user cache directory (platformdirs reads XDG_CACHE_HOME) and semverlint's override.
        env["XDG_CACHE_HOME"] = str(cache_dir)
        env["SEMVERLINT_CACHE_DIR"] = str(cache_dir / "semverlint")
    return env


def recall(report_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """How the changes of `diff base..change50` line up with what the generator recorded."""
    report = json.loads(report_path.read_text())
    by_model: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for project in report.get("projects", []):
        for change in project.get("changes", []):
            by_model[change["model"].lower()].append(change)
    recorded = manifest["changes"]
    breaking = [r for r in recorded if r["breaking"]]

    def exact(r: dict[str, Any]) -> bool:
        return any(
            c["rule"] == r["expected_rule"] and c["bump"] == r["expected_bump"]
            for c in by_model[r["model"].lower()]
        )

    def major(r: dict[str, Any]) -> bool:
        return any(c["bump"] == "major" for c in by_model[r["model"].lower()])

    names = {r["model"].lower() for r in recorded}

    def got(r: dict[str, Any]) -> str:
        found = sorted({(c["rule"], c["bump"]) for c in by_model[r["model"].lower()]})
        return ", ".join(f"{rule} at {bump}" for rule, bump in found) or "nothing"

    missed = [
        f"{r['kind']} on {r['model']} ({r['layer']}, {r['column'] or '-'}): "
        f"expected {r['expected_rule']} at {r['expected_bump']}, got {got(r)}"
        for r in recorded
        if not exact(r)
    ]
    return {
        "recorded": len(recorded),
        "breaking": len(breaking),
        "breaking_exact": sum(1 for r in breaking if exact(r)),
        "breaking_model": sum(1 for r in breaking if major(r)),
        "as_expected": sum(1 for r in recorded if exact(r)),
        "false_major": sum(1 for r in recorded if not r["breaking"] and major(r)),
        # An unedited model may change with its upstream (`select *` passes a column on): those
        # changes name the upstream in `via`. Only the rest are unexplained.
        "unrecorded_models": sum(
            1 for m, cs in by_model.items() if m not in names and any(not c.get("via") for c in cs)
        ),
        "propagated_models": sum(
            1 for m, cs in by_model.items() if m not in names and all(c.get("via") for c in cs)
        ),
        "missed": missed,
    }


def reformat_check(report_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """`diff base..reformat` changes only layout: every model should be `sql-reformatted` alone."""
    report = json.loads(report_path.read_text())
    rules: dict[str, set[str]] = collections.defaultdict(set)
    for project in report.get("projects", []):
        for change in project.get("changes", []):
            rules[change["model"].lower()].add(change["rule"])
    other = sorted(m for m, found in rules.items() if found != {"sql-reformatted"})
    return {
        "models": manifest["model_files"],
        "reformatted": sum(1 for found in rules.values() if found == {"sql-reformatted"}),
        "other": len(other),
        "other_rules": sorted({r for m in other for r in rules[m]}),
        "examples": other[:5],
    }


def profile(cli: str, folder: Path, size: int, scratch: Path) -> dict[str, Any]:
    """One cold `diff base..change50` under cProfile in the tool's interpreter: top entries."""
    python = tool_python(cli)
    out = scratch / f"profile-{size}.prof"
    args = ["diff", "base..change50", "--repo", str(folder / "repo"), "--format", "json"]
    start = time.perf_counter()
    subprocess.run(
        [python, "-m", "cProfile", "-o", str(out), "-m", "semverlint", *args],
        stdout=subprocess.DEVNULL,
        env=_env(Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))),
        check=False,
    )
    total = time.perf_counter() - start
    show = (
        "import pstats, io, sys\n"
        "for key in ('cumulative', 'tottime'):\n"
        "    s = io.StringIO()\n"
        "    pstats.Stats(sys.argv[1], stream=s).sort_stats(key).print_stats(80)\n"
        "    print('@@', key); print(s.getvalue())\n"
    )
    text = subprocess.run(
        [python, "-c", show, str(out)], capture_output=True, text=True, check=False
    ).stdout
    tables: dict[str, list[str]] = {}
    for block in text.split("@@ ")[1:]:
        key, _, body = block.partition("\n")
        rows = [
            line.rstrip()
            for line in body.splitlines()
            if line.strip()
            and line.split()[0].replace("/", "").isdigit()
            and "function calls" not in line
        ]
        if key == "cumulative":
            # The first frames are runpy, typer and click handing the call down: skip them.
            rows = [r for r in rows if not any(w in r for w in _DISPATCH)]
        tables[key] = [_short(r) for r in rows[:15]]
    header = "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)"
    return {
        "size": size,
        "command": f"semverlint {' '.join(args[:2])}",
        "total": total,
        "top": [
            "# by cumulative time (dispatch frames of runpy/typer/click/cli left out)",
            header,
            *tables.get("cumulative", []),
            "",
            "# by own time",
            header,
            *tables.get("tottime", []),
        ],
    }


_DISPATCH = (
    "builtins.exec",
    "<string>:1(<module>)",
    "<frozen runpy>",
    "__main__.py",
    "/typer/",
    "/click/",
    "cli.py",
)


def _short(row: str) -> str:
    """Paths relative to site-packages: the table is about modules, not where a venv lives."""
    return re.sub(r"\S*site-packages/", "", row)


def tool_python(cli: str) -> str:
    """The interpreter of the semverlint console script (its shebang)."""
    with open(cli, "rb") as f:
        first = f.readline().decode().strip()
    return first[2:].split()[0] if first.startswith("#!") else sys.executable


def find_cli(given: str | None) -> str:
    if given:
        return given
    beside = Path(sys.executable).parent / "semverlint"
    found = str(beside) if beside.exists() else shutil.which("semverlint")
    if not found:
        sys.exit("semverlint is not installed: pass --semverlint PATH")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="100,1000,5000",
        help="comma-separated project sizes (default 100,1000,5000)",
    )
    parser.add_argument("--quick", action="store_true", help="100 models only")
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds a scenario may use before it stops adding runs (default 60)",
    )
    parser.add_argument(
        "--scenarios", help="only scenarios whose name contains one of these comma-separated words"
    )
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument(
        "--work", type=Path, help="where projects are generated (default: $TMPDIR/semverlint-bench)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse generated projects of the same size and seed"
    )
    parser.add_argument(
        "--semverlint", help="the CLI to time (default: the one beside this interpreter)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one cold diff base..change50 (1,000 models, or the largest size below)",
    )
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="only the profile; keep the timings already recorded",
    )
    parser.add_argument(
        "--label", help="what build of semverlint is timed, for RESULTS.md (e.g. a commit)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print, do not update results.json / RESULTS.md"
    )
    args = parser.parse_args(argv)

    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    cli = find_cli(args.semverlint)
    work = args.work or Path(tempfile.gettempdir()) / "semverlint-bench"
    scratch = Path(tempfile.mkdtemp(prefix="semverlint-bench-runs-"))
    bench = Bench(cli, args.runs, args.budget, scratch)
    machine = results.machine(tool_python(cli))
    version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout.split()
    machine["semverlint"] = (version[-1] if version else "?") + (
        f" ({args.label})" if args.label else ""
    )
    print(f"semverlint: {cli} ({bench.cache_note()})", file=sys.stderr)

    data = results.load()
    previous = data.get("semverlint", {}).get("sizes", {})
    part: dict[str, Any] = {
        "machine": machine,
        "date": dt.date.today().isoformat(),
        "command": "python benchmarks/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "cache": bench.cache_note(),
        # Sizes not measured this time keep their last figures.
        "sizes": {k: v for k, v in previous.items() if int(k) not in sizes},
    }
    wanted = [w.strip() for w in (args.scenarios or "").split(",") if w.strip()]
    if args.profile_only:
        args.profile = True
        # The timings stay as they were measured, with the command and date that measured them.
        part.update(
            {
                k: v
                for k, v in data.get("semverlint", {}).items()
                if k in ("sizes", "command", "date", "cache", "machine")
            }
        )
    for size in sizes if not args.profile_only else []:
        folder = work / str(size)
        manifest_path = folder / "changes.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
        if not (
            args.reuse
            and manifest
            and manifest["seed"] == args.seed
            and (folder / "staged-one").exists()
        ):
            manifest = generate.generate(size, args.seed, folder)
        assert manifest is not None
        rows = []
        recall_figures = None
        reformat_figures = None
        for s in SCENARIOS:
            if wanted and not any(w in s.name for w in wanted):
                continue
            row = bench.measure(size, s, folder)
            if (
                s.name == "diff base..change50 cold"
                and "_stdout" in row
                and row["result"] != "error"
            ):
                recall_figures = recall(Path(row["_stdout"]), manifest)
            if (
                s.name == "diff base..reformat cold"
                and "_stdout" in row
                and row["result"] != "error"
            ):
                reformat_figures = reformat_check(Path(row["_stdout"]), manifest)
            row.pop("_stdout", None)
            rows.append(row)
        part["sizes"][str(size)] = {
            "command": part["command"],
            "date": part["date"],
            "scenarios": rows,
            "recall": recall_figures,
            "reformat": reformat_figures,
            "models": manifest["models"],
            "yaml_bytes": manifest["yaml_bytes"],
        }
    if args.profile:
        size = max([s for s in sizes if s <= 1000] or [min(sizes)])
        print(f"profiling a cold diff base..change50 on {size} models", file=sys.stderr)
        if not (work / str(size) / "changes.json").exists():
            generate.generate(size, args.seed, work / str(size))
        part["profile"] = profile(cli, work / str(size), size, scratch)
    elif data.get("semverlint", {}).get("profile"):
        part["profile"] = data["semverlint"]["profile"]
    if args.no_write:
        print(json.dumps(part, indent=2))
    else:
        data["semverlint"] = part
        results.save(data)
        print(f"wrote {results.RESULTS_MD}", file=sys.stderr)
    print(results.render({"semverlint": part}), file=sys.stdout)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
