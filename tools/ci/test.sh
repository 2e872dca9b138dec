#!/usr/bin/env bash
# npm test: install what is missing, build, typecheck, then unit, integration and (when
# present) end-to-end specs. Tests start their own servers on private ports and dirs
# through @drydock/testing, so nothing is started here. Any failure fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export NX_DAEMON=false

step() { echo; echo "==> $*"; }

step "dependencies"
bash tools/install/ensure-deps.sh
step "build"
node tools/build/build.mjs
step "typecheck"
npx tsc -p tsconfig.json --noEmit
# --forceExit: a test that leaks a handle must not hang CI until its time limit; the
# suites still fail on their own assertions. Unit and integration stages both run so
# one CI pass reports every failure.
failed=()
# each stage's counts, summed into one closing line at the end
results="$(mktemp -d /tmp/dd-test-results.XXXXXX)"
trap 'rm -rf "$results"' EXIT
step "unit tests"
npx jest --ci --forceExit --json --outputFile "$results/unit.json" --testPathIgnorePatterns 'int\.spec\.ts$' 'e2e\.spec\.ts$' || failed+=("unit")
step "integration tests"
npx jest --ci --forceExit --runInBand --json --outputFile "$results/integration.json" --testPathPatterns '\.int\.spec\.ts$' || failed+=("integration")
if find apps libs tools -name '*.e2e.spec.ts' -not -path '*/node_modules/*' | grep -q .; then
  step "end-to-end tests"
  # shellcheck source=../install/ensure-deps.sh
  source tools/install/ensure-deps.sh
  ensure_docker_cli
  # tools/bench/compare/build-compare.e2e.spec.ts builds the same Dockerfiles on a private dockerd 20.10
  ensure_dockerd
  # apps/api-gateway/test/compose.e2e.spec.ts drives Debian's docker-compose 1.29
  ensure_docker_compose
  npx jest --ci --forceExit --runInBand --json --outputFile "$results/e2e.json" --testPathPatterns '\.e2e\.spec\.ts$' || failed+=("end-to-end")
fi
# The Drydock-vs-Docker bench, every workload once at tiny sizes (~10 s): keeps the tool
# working. Numbers are never asserted; a crash or a failed workload fails the run.
step "bench smoke"
bench_out="$(mktemp -d /tmp/dd-bench-smoke.XXXXXX)"
npm run bench -- --smoke --out "$bench_out" || failed+=("bench smoke")
# The scheduler bench at 40 nodes and 400 requests (~6 s): also reads the directory back and
# fails on a request placed twice or an overcommitted node.
npm run bench:scheduler -- --smoke --out "$bench_out/scheduler" || failed+=("scheduler bench smoke")
rm -rf "$bench_out"
echo
# the plain closing line: every test of every stage
node -e '
  let p = 0, f = 0;
  for (const file of process.argv.slice(1)) {
    try { const r = require(file); p += r.numPassedTests; f += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); } catch { f += 1; }
  }
  console.log(`tests: ${p} passed, ${f} failed`);
' "$results"/*.json
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "==> FAILED: ${failed[*]}"
  exit 1
fi
echo "==> all tests passed"
