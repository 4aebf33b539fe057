#!/usr/bin/env bash
# Prints every benchmark figure the project tracks. Each part can also be run on its own.
set -euo pipefail
cd "$(dirname "$0")"
./bench-validate.sh
