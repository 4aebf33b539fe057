# Sourced by the benchmarks that run `sluice`: builds it in release mode, and gives each run a
# scratch folder ($work, removed on exit) holding its own audit store. Sets $sluice.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product sluice >/dev/null
sluice=$(swift build -c release --show-bin-path)/sluice
export SLUICE_STORE="$work/audit.sqlite"
