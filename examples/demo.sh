#!/usr/bin/env bash
# Builds a throwaway git repository from examples/shop/{before,after} and runs semverlint on it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(mktemp -d "${TMPDIR:-/tmp}/semverlint-demo.XXXXXX")"
trap 'rm -rf "$repo"' EXIT
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
git -C "$repo" init -q -b main
cp -R "$here/shop/before/." "$repo/"
git -C "$repo" add -A && git -C "$repo" commit -q -m "shop 1.4.0"
git -C "$repo" switch -q -c feature
find "$repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
cp -R "$here/shop/after/." "$repo/"
git -C "$repo" add -A && git -C "$repo" commit -q -m "orders: rename status, widen amount; customers: drop not_null"
echo "\$ semverlint diff main..feature   (in a demo repository built from examples/shop)" >&2
semverlint diff main..feature --repo "$repo"
echo >&2
echo "\$ semverlint check main..feature" >&2
status=0
semverlint check main..feature --repo "$repo" || status=$?
echo >&2
echo "(check exited $status: 1 means the declared version is too small for the changes)" >&2
