#!/usr/bin/env bash
# scripts/chaos.d/pg.sh stop|crash|start — fault the chaos suite's own PostgreSQL (started by
# scripts/chaos with scripts/infra/pg-up.sh; INFRA_ROOT and PG_PORT come from there).
#   stop   a fast shutdown (what a routine database restart does)
#   crash  SIGKILL to the postmaster: no shutdown, recovery from the WAL at the next start
#   start  start it again (pg-up.sh waits until the killed postmaster is reaped)
#   read-only / writable   every session's transactions read-only (a reload reaches open ones)
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
data=${INFRA_ROOT:?}/pg/data
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
case "${1:-}" in
    stop) runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop ;;
    crash) kill -KILL "$(head -n1 "$data/postmaster.pid")" ;;
    start)
        # the killed postmaster's backends notice its death and leave; until then they hold the port
        for _ in $(seq 20); do
            if "$here/../infra/pg-up.sh" >/dev/null 2>&1; then exit 0; fi
            sleep 0.5
        done
        "$here/../infra/pg-up.sh" ;;
    read-only|writable)
        [ "$1" = read-only ] && v=on || v=off
        psql -X -q "postgres://postgres@127.0.0.1:${PG_PORT:?}/postgres" \
            -c "ALTER SYSTEM SET default_transaction_read_only = $v" -c 'SELECT pg_reload_conf()' >/dev/null ;;
    *) echo "usage: $0 stop|crash|start|read-only|writable" >&2; exit 2 ;;
esac
