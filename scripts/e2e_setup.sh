#!/usr/bin/env bash
# System packages for the end-to-end tests (`make e2e`): headless Chromium for the UI test and a local
# PostgreSQL server for the parallel-runs test. Idempotent: a second call only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(chromium chromium-driver postgresql)

missing=()
for package in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "e2e_setup: installing ${missing[*]}"
  SUDO=""
  if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The Debian postgresql package starts a cluster where a service manager exists; the tests start their
  # own throwaway server on a free port, so that default cluster is never used.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Fail here, with a clear message, rather than in the middle of a test.
test -x /usr/bin/chromium || { echo "e2e_setup: /usr/bin/chromium missing" >&2; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "e2e_setup: initdb missing" >&2; exit 1; }
echo "e2e_setup: chromium and postgresql ready"

# Dagster's Postgres storage for the parallel-runs test, pinned to the dagster 1.13.27 line.
VENV_PYTHON="${VENV_PYTHON:-.venv/bin/python}"
if ! "$VENV_PYTHON" -c "import dagster_postgres" 2>/dev/null; then
  echo "e2e_setup: installing dagster-postgres==0.29.27 into the venv"
  "$VENV_PYTHON" -m pip install --quiet dagster-postgres==0.29.27
fi
echo "e2e_setup: dagster-postgres ready"
