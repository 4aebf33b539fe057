#!/usr/bin/env bash
# Installs what the integration tests (Tests/SluiceIntegrationTests) run the example runbooks
# against: nginx, redis-server, redis-cli, curl, openssl and PostgreSQL's server (postgres,
# initdb, pg_ctl, pg_isready, psql), from Debian's packages, when any is missing. Quiet and safe
# to run again: with everything present it does nothing.
#
# The packages' own services are never started: installing nginx, redis-server or postgresql
# would otherwise start the system nginx on port 80, redis on 6379 and PostgreSQL on 5432. The
# tests start their own instances on 127.0.0.1 in a temporary folder (Runbooks/lab/lab.sh,
# Runbooks/lab/postgres-lab.sh). Debian's postgresql package also initialises its own cluster
# (/var/lib/postgresql/VERSION/main); it is left there, not running, and the tests never use it.
#
# Without root (or sudo) or apt-get it installs nothing and says so; the integration tests then
# fail, naming what is missing.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

packages=()
have nginx || packages+=(nginx)
have redis-server || packages+=(redis-server)
have redis-cli || packages+=(redis-tools)
have curl || packages+=(curl)
have openssl || packages+=(openssl)
# Debian keeps PostgreSQL's server programs in /usr/lib/postgresql/VERSION/bin, off PATH.
have_postgres() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/pg_isready" ] && return 0
    done
    return 1
}
have_postgres && have psql || packages+=(postgresql)
[ ${#packages[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "integration-setup: no apt-get here; install ${packages[*]} yourself, or the integration tests fail" >&2
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "integration-setup: not root (and no password-less sudo); install ${packages[*]} yourself, or the integration tests fail" >&2
    exit 0
fi

# Debian starts a package's service when it is installed unless /usr/sbin/policy-rc.d says no.
# Put one in place for the install (and only then) when the machine has none.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Temporary, from Scripts/integration-setup.sh: start no service while installing.\nexit 101\n' \
        | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi

echo "integration-setup: installing ${packages[*]} (Debian packages; their services are not started)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "integration-setup: error: apt-get could not install ${packages[*]}; the integration tests will fail" >&2
    exit 1
fi
rm -f "$log"
