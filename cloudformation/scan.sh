#!/usr/bin/env bash
# Security-scan the stack template with checkov, offline, in both of its shapes.
#
# checkov evaluates only the resources whose Condition is true for the parameters' DEFAULTS,
# so the optional crawler and its role (CreateCrawler, default "false") would go unscanned.
# This script scans the template as is and a copy with CreateCrawler defaulting to "true".
#
# checkov lives in its own venv (it pins an old boto3): CHECKOV=.venv-checkov/bin/checkov
# by default; `make test` creates it. Exit status: 0 when no check fails in either shape.
# Arguments replace the default output options (--compact --quiet), e.g. `scan.sh -o json`
# prints one JSON report per shape (template first, then with-crawler) on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
checkov="${CHECKOV:-$root/.venv-checkov/bin/checkov}"
template="$here/usage-api.template.yaml"

if [[ ! -x "$checkov" ]]; then
    echo "checkov not found at $checkov (make $root/.venv-checkov/.installed, or set CHECKOV)" >&2
    exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
with_crawler="$tmp/usage-api.with-crawler.template.yaml"
# The only parameter defaulting to "false" is CreateCrawler; fail loudly if that changes.
if [[ "$(grep -c '^    Default: "false"$' "$template")" != 1 ]]; then
    echo "scan.sh: cannot find CreateCrawler's default in $template" >&2
    exit 2
fi
sed 's/^    Default: "false"$/    Default: "true"/' "$template" >"$with_crawler"

options=("$@")
if [[ ${#options[@]} -eq 0 ]]; then
    options=(--compact --quiet)
fi
status=0
for file in "$template" "$with_crawler"; do
    echo "== checkov: $(basename "$file")" >&2
    "$checkov" --file "$file" --framework cloudformation --skip-download "${options[@]}" \
        || status=1
done
exit "$status"
