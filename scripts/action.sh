#!/usr/bin/env bash
# The shell steps of the semverlint GitHub Action (action.yml): `install`, then `check`.
#
# Every value arrives through the environment: the action's inputs as INPUT_* (mapped with
# `env:` in action.yml, never interpolated into a script), the event from GITHUB_EVENT_PATH.
# The tests run this file with a simulated event (tests/test_integrations.py).
set -euo pipefail

log() { printf 'semverlint action: %s\n' "$*" >&2; }

fail() {
  # A run that cannot be done: exit 2, as semverlint itself does.
  log "error: $*"
  exit 2
}

is_sha() { [[ "$1" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; }
is_zero() { [[ "$1" =~ ^0+$ ]]; }

# One field of the event payload (dotted path), or nothing.
event_field() {
  [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ] || return 0
  python3 - "$GITHUB_EVENT_PATH" "$1" <<'PY'
import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for part in sys.argv[2].split("."):
    value = value.get(part) if isinstance(value, dict) else None
if isinstance(value, (str, int)) and not isinstance(value, bool):
    print(value)
PY
}

install() {
  local venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/semverlint-venv" spec
  if [ -n "${INPUT_VERSION:-}" ]; then
    [[ "$INPUT_VERSION" =~ ^[0-9A-Za-z.!+-]+$ ]] || fail "input version '$INPUT_VERSION' is not a version"
    spec="semverlint==$INPUT_VERSION"
  else
    spec="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
  fi
  "${SEMVERLINT_PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$venv/bin" >>"$GITHUB_PATH"
  fi
  "$venv/bin/semverlint" --version >&2
}

shallow() { [ "$(git rev-parse --is-shallow-repository)" = "true" ]; }

# Make sure a commit is here: a shallow checkout fetches just that commit.
ensure_commit() {
  git cat-file -e "$1^{commit}" 2>/dev/null && return 0
  log "fetching $1"
  git fetch --quiet --no-tags --depth=1 origin "$1" || fail "cannot fetch $1 from origin"
}

# Make sure the default branch's tip is here as refs/remotes/origin/BRANCH.
ensure_branch() {
  log "fetching origin/$1"
  git fetch --quiet --no-tags --depth=1 origin "+refs/heads/$1:refs/remotes/origin/$1" ||
    fail "cannot fetch the branch $1 from origin"
}

# Deepen a shallow checkout until BASE and HEAD have a merge base, doubling each time.
ensure_merge_base() {
  local base depth="${SEMVERLINT_FETCH_DEPTH:-50}" tries=0 head
  base="$(git rev-parse --verify --end-of-options "$1^{commit}")" || fail "no commit $1"
  head="$(git rev-parse HEAD)"
  until git merge-base "$base" "$head" >/dev/null 2>&1; do
    shallow || return 0 # a full clone without a merge base: semverlint says so
    tries=$((tries + 1))
    if [ "$tries" -gt 8 ]; then
      log "no merge base after deepening $tries times; fetching the whole history"
      git fetch --quiet --no-tags --unshallow origin || fail "cannot unshallow the checkout"
      return 0
    fi
    log "deepening the checkout by $depth commits to find the merge base"
    git fetch --quiet --no-tags --deepen="$depth" origin "$base" "$head" ||
      fail "cannot deepen the checkout"
    depth=$((depth * 2))
  done
}

# The RANGE to check, worked out from the inputs and the event; fetches what it needs.
resolve_range() {
  if [ -n "${INPUT_RANGE:-}" ]; then
    echo "$INPUT_RANGE"
    return 0
  fi
  local base before default
  case "${GITHUB_EVENT_NAME:-}" in
  pull_request | pull_request_target)
    base="$(event_field pull_request.base.sha)"
    is_sha "$base" || fail "the pull_request event has no base sha"
    ensure_commit "$base"
    ensure_merge_base "$base"
    echo "$base...HEAD"
    return 0
    ;;
  merge_group)
    base="$(event_field merge_group.base_sha)"
    is_sha "$base" || fail "the merge_group event has no base sha"
    ensure_commit "$base"
    echo "$base..HEAD"
    return 0
    ;;
  push)
    before="$(event_field before)"
    if [ -n "$before" ] && ! is_zero "$before"; then
      is_sha "$before" || fail "the push event's 'before' is not a commit id"
      ensure_commit "$before"
      echo "$before..HEAD"
      return 0
    fi
    log "a new branch (before is all zeros): checking it from where it left the default branch"
    ;;
  esac
  default="$(event_field repository.default_branch)"
  [ -n "$default" ] || fail "cannot work out a base for event '${GITHUB_EVENT_NAME:-}': give the action a range"
  ensure_branch "$default"
  ensure_merge_base "refs/remotes/origin/$default"
  echo "origin/$default...HEAD"
}

# Write the outputs from the JSON report.
write_outputs() {
  local report="$1"
  python3 - "$report" "${GITHUB_OUTPUT:-/dev/null}" <<'PY'
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
projects = report["projects"]
suggested = [p["suggested_version"] for p in projects if p["suggested_version"]]
if len(projects) == 1:
    version = suggested[0] if suggested else ""
else:
    version = " ".join(f"{p['path']}={p['suggested_version']}" for p in projects if p["suggested_version"])
with open(sys.argv[2], "a", encoding="utf-8") as out:
    out.write(f"required-bump={report['required_bump']}\n")
    out.write(f"suggested-version={version}\n")
    out.write(f"ok={'true' if report['ok'] else 'false'}\n")
    out.write(f"report={sys.argv[1]}\n")
PY
}

check() {
  if [ -n "${INPUT_WORKING_DIRECTORY:-}" ]; then
    cd "$INPUT_WORKING_DIRECTORY" || fail "no directory '$INPUT_WORKING_DIRECTORY'"
  fi
  git rev-parse --git-dir >/dev/null 2>&1 || fail "$(pwd) is not a git checkout: run actions/checkout first"
  local range format="${INPUT_FORMAT:-github}" args=() report code
  range="$(resolve_range)"
  log "checking $range"
  args=(check)
  [ -z "${INPUT_CONFIG:-}" ] || args+=(--config "$INPUT_CONFIG")
  [ -z "${INPUT_FAIL_ON:-}" ] || args+=(--fail-on "$INPUT_FAIL_ON")
  [ -z "${INPUT_PROJECT:-}" ] || args+=(--project "$INPUT_PROJECT")

  report="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/semverlint-report.json"
  code=0
  # `--` ends the options: whatever the range says, it is never read as one.
  semverlint "${args[@]}" --format json -- "$range" >"$report" || code=$?
  [ "$code" -le 1 ] || exit "$code" # the message is already on stderr
  write_outputs "$report"
  if [ "$format" = "json" ]; then
    cat "$report"
  else
    code=0
    semverlint "${args[@]}" --format "$format" -- "$range" || code=$?
  fi
  exit "$code"
}

case "${1:-}" in
install) install ;;
check) check ;;
*) fail "usage: action.sh install|check" ;;
esac
