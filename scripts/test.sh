#!/usr/bin/env bash
# Run the test suite in the project's environment (installing it first if needed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup_env.sh"
cd "$root"
# every core (pytest-xdist): the tests use one torch thread each; each test file stays in one worker, so a module's
# fixtures are built once. PYTEST_WORKERS=0 runs in this process (e.g. to debug with -s / --pdb).
exec "$root/.venv/bin/python" -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@"
