#!/bin/sh
# scripts/pool.sh TARGET drain|undrain|healthy: a stand-in for a load balancer and a service.
set -eu
case "$2" in
  drain)   echo "drained" > "state/$1/pool"; sleep 1 ;;  # connections finish
  undrain) echo "serving" > "state/$1/pool" ;;
  healthy) grep -Eq '^max_connections = [0-9]+$' "state/$1/db.conf" && ! grep -q '= 0$' "state/$1/db.conf" ;;
esac
