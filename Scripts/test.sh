#!/usr/bin/env bash
# Runs every test: unit, adapter, end-to-end and integration. The one command CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The audit store builds on the system's SQLite; install its headers when they are missing.
if [ ! -f /usr/include/sqlite3.h ]; then
    echo "test.sh: installing libsqlite3-dev (SQLite headers for GRDB)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libsqlite3-dev; else sudo apt-get install -y libsqlite3-dev; fi
fi

# The SSH transport's tests start a real sshd on 127.0.0.1 (their own keys and config, a
# dedicated user `sluice-ssh-test` that the tests create when missing) and check `become` with
# sudo: install openssh-server and sudo when missing. The tests need root, as sshd does.
for need in /usr/sbin/sshd:openssh-server /usr/bin/sudo:sudo; do
    if [ ! -x "${need%%:*}" ]; then
        echo "test.sh: installing ${need#*:} (for the SSH transport's tests)" >&2
        if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${need#*:}"; else sudo apt-get install -y "${need#*:}"; fi
    fi
done

# The integration tests run the example runbooks against real nginx and redis: install them when
# missing. A failure here does not stop the other tests; the integration tests then fail, saying why.
Scripts/integration-setup.sh || echo "test.sh: Scripts/integration-setup.sh failed; the integration tests will fail" >&2

swift build --build-tests
# In parallel. The engine's tests run on fakes and a manual clock (SluiceTesting), so no test
# waits for real time or asserts on it. The tests that start processes (the binary, nginx,
# PostgreSQL) carry `.ownThread`: each blocks a thread of its own, not one of the pool's few, so
# they cannot starve the timers of the others, and at most three per core of them run at once
# (SLUICE_TEST_WIDTH changes that).
swift test --skip-build "$@"
