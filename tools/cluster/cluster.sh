#!/usr/bin/env bash
# npm run cluster -- [options]: install what is missing, build, then run the one-machine cluster in the
# foreground (--down takes it away). Options: tools/cluster/cluster-args.ts or `npm run cluster -- --help`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tools/install/ensure-deps.sh
node tools/build/build.mjs
# exec: Ctrl-C and SIGTERM go straight to the tool, which stops its children in order.
exec node --enable-source-maps dist/tools/cluster/cluster.js "$@"
