#!/usr/bin/env bash
# down.sh -- stop everything up.sh started, in order: Slurm, the sshds, (the MPI files), the
# namespace hosts, PostgreSQL; then remove $INFRA_ROOT/test-env.sh and up.sh's logs. Keeps going
# past a failure and fails at the end if any step failed. Idempotent; safe in a `trap ... EXIT`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_root
rc=0
"$INFRA_DIR/slurm-down.sh" || rc=1
"$INFRA_DIR/sshd-down.sh" --all || rc=1
"$INFRA_DIR/mpi-down.sh" || rc=1
"$INFRA_DIR/netns-down.sh" || rc=1
"$INFRA_DIR/pg-down.sh" || rc=1
rm -f "$INFRA_ROOT/test-env.sh" "$INFRA_ROOT/test-env.sh.new"
rm -rf "$INFRA_ROOT/up-logs"
rmdir "$INFRA_ROOT" 2>/dev/null || true
[ $rc = 0 ] || die "some teardown step failed (see above)"
log "all down ($(elapsed) s)"
