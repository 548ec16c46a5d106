#!/usr/bin/env bash
# Runs every test: unit and integration (real Docker, lab hosts with systemd, sshd, registry).
# Prints vitest's report and a closing 'N passed, N failed' line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
report="$(mktemp -t osctl-vitest-XXXXXX.json)"
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$report" || true
rm -f "$report"
exit $rc
