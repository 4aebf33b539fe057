#!/usr/bin/env bash
# Prints every benchmark figure the project tracks (release build). Each part also runs alone.
set -euo pipefail
cd "$(dirname "$0")"
./bench-validate.sh
./bench-plan.sh
./bench-apply.sh
./bench-audit.sh
