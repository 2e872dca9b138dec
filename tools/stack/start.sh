#!/usr/bin/env bash
# npm start: install what is missing, build, then run the local stack in the foreground.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash tools/install/ensure-deps.sh
node tools/build/build.mjs
# exec: Ctrl-C and SIGTERM go straight to the stack, which stops its children in order.
exec node --enable-source-maps dist/tools/stack/stack.js
