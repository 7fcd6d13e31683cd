#!/usr/bin/env bash
# Install archiver with its test extra and run the whole test suite (README, set-up command 2).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
exec python3 -m pytest -n 2 -q "$@"
