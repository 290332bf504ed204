#!/usr/bin/env bash
# up.sh -- start the real components the end-to-end tests use, as root, and write the variables
# that tell the tests what is up to $INFRA_ROOT/test-env.sh (default /tmp/infra/test-env.sh).
#
#   usage:  up.sh [netns] [pg] [sshd] [mpi] [slurm]      (no argument: all of them)
#           . "${INFRA_ROOT:-/tmp/infra}/test-env.sh"     then run the tests
#           down.sh                                       stops everything (slurm, sshd, netns, pg)
#
#   netns   hosts h1 h2 h3 as network namespaces         -> HS_NETNS_HOSTS="h1 h2 h3"
#   pg      PostgreSQL on 127.0.0.1:55432, db test       -> DATABASE_URL (and PGHOST PGPORT PGUSER PGDATABASE)
#   sshd    one sshd inside each namespace host (port 2222, hostname hN)
#                                                        -> HS_SSH_CONFIG=$INFRA_ROOT/ssh/config
#   mpi     Open MPI installed and proven (no daemon)    -> HS_MPIRUN_ENV=$INFRA_ROOT/mpi/env.sh
#   slurm   munged + slurmctld + one slurmd per namespace host
#                                                        -> HS_SLURM_CONF=$INFRA_ROOT/slurm/slurm.conf
#
# A part that cannot be started (a failed package install, a taken port, a missing namespace for
# the parts that need one) does not stop the others: up.sh prints "== skipping PART: reason",
# leaves its variable out of test-env.sh, and still exits 0, so the tests that need the part skip
# visibly (or fail, with HS_REQUIRE_ALL=1). Each part's own output goes to
# $INFRA_ROOT/up-logs/PART.log; it is printed when the part fails, or always with HS_INFRA_VERBOSE=1.
# Missing Debian packages of all requested parts are installed first, in one apt-get call. Then
# PostgreSQL starts in the background beside the namespace hosts, and Slurm in the background beside
# the sshds and the MPI check (which uses the sshds): about 4.5 s in all once installed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_root

say() { printf '== %s\n' "$*" >&2; }
ALL="netns pg sshd mpi slurm"
PARTS=${*:-$ALL}
for p in $PARTS; do case " $ALL " in *" $p "*) ;; *) die "unknown part '$p' (parts: $ALL)";; esac; done
want() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }

ENV_FILE=$INFRA_ROOT/test-env.sh
LOGS=$INFRA_ROOT/up-logs
mkdir -p "$INFRA_ROOT" "$LOGS"; chmod 755 "$INFRA_ROOT"
{
    echo "# written by $INFRA_DIR/up.sh at $(date '+%F %T'): what is up for the tests; removed by down.sh"
} > "$ENV_FILE.new"
UP=()      # parts that are up
SUMMARY=() # "part 1.2s" / "part skipped"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# start_part PART CMD... : start one component script in the background, output to its log.
# finish_part PART : wait for it; 0 if it worked, else print why (and the log tail) and return 1.
# run_part PART CMD... : both, in the foreground.
declare -A PID T0S
start_part() {
    local part=$1; shift
    T0S[$part]=$(now)
    rm -f "$LOGS/$part.end"
    ( rc=0; "$@" || rc=$?; now > "$LOGS/$part.end"; exit $rc ) >"$LOGS/$part.log" 2>&1 </dev/null &
    PID[$part]=$!
}
finish_part() {
    local part=$1 rc=0 reason
    wait "${PID[$part]}" || rc=$?
    unset "PID[$part]"
    if [ "${HS_INFRA_VERBOSE:-0}" = 1 ]; then cat "$LOGS/$part.log" >&2; fi
    if [ $rc = 0 ]; then
        SUMMARY+=("$part $(awk -v a="${T0S[$part]}" -v b="$(cat "$LOGS/$part.end")" 'BEGIN{printf "%.1f", b-a}')s")
        return 0
    fi
    [ "${HS_INFRA_VERBOSE:-0}" = 1 ] || tail -n 15 "$LOGS/$part.log" | sed 's/^/   | /' >&2
    reason=$(grep -o 'ERROR: .*' "$LOGS/$part.log" | tail -n1 | cut -c8-)
    case "$reason" in *"(log: "*) ;; *) reason="${reason:-exit status $rc} (log: $LOGS/$part.log)";; esac
    skip "$part" "$reason"
    return 1
}
run_part() { start_part "$@"; finish_part "$1"; }
# if up.sh itself dies, do not leave a part starting in the background
trap 'for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
skip() {  # skip PART REASON ("sshd-h2" is shown as "sshd (h2)")
    local name=$1; case "$name" in sshd-*) name="sshd (${name#sshd-})";; esac
    say "skipping $name: $2"; SUMMARY+=("$1 skipped")
}
is_up() { case " ${UP[*]:-} " in *" $1 "*) return 0;; esac; return 1; }

T0=$(now)

# --- packages: everything missing, in one apt-get call (each part retries its own on failure) ------
pkgs=()
if want sshd && ! { [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; }; then
    pkgs+=(openssh-server openssh-client)
fi
if want mpi && ! { command -v mpirun >/dev/null && mpirun --version 2>/dev/null | grep -q 'Open MPI'; }; then
    pkgs+=(openmpi-bin)
fi
if want slurm; then
    for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/srun /usr/sbin/munged /usr/sbin/mungekey; do
        [ -x "$b" ] || { pkgs+=(slurmctld slurmd slurm-client munge); break; }
    done
fi
# libfaketime: the door tests run a peer whose clock is an hour off the controller's.
command -v faketime >/dev/null || pkgs+=(faketime)
if [ ${#pkgs[@]} -gt 0 ]; then
    t=$(now)
    say "installing ${pkgs[*]}"
    if ( apt_install "${pkgs[@]}" ) >"$LOGS/apt.log" 2>&1; then
        SUMMARY+=("install $(since "$t")s")
    else
        say "combined install failed ($(grep -o 'ERROR: .*' "$LOGS/apt.log" | tail -n1)); each part tries its own"
        SUMMARY+=("install failed $(since "$t")s")
    fi
fi

# --- PostgreSQL (in the background: it needs nothing else) and the namespace hosts ---------------
want pg && start_part pg "$INFRA_DIR/pg-up.sh"
HOSTS=""
if want netns; then
    if run_part netns "$INFRA_DIR/netns-up.sh"; then
        HOSTS=$(. "$INFRA_ROOT/netns/env.sh"; echo $NETNS_HOSTS)
        UP+=(netns)
        echo "export HS_NETNS_HOSTS=\"$HOSTS\"" >> "$ENV_FILE.new"
    fi
fi
need_netns() {  # need_netns PART -> 0 if the namespace hosts are up, else prints the skip
    if is_up netns; then return 0; fi
    skip "$1" "needs the namespace hosts (netns), which are not up"
    return 1
}

# --- Slurm, one slurmd per namespace host (in the background: it mostly waits for its daemons) ----
SLURM_STARTED=0
if want slurm && need_netns slurm; then
    start_part slurm env SLURM_NODES="$HOSTS" "$INFRA_DIR/slurm-up.sh"
    SLURM_STARTED=1
fi

# --- sshd inside every namespace host (one after the other: they share $INFRA_ROOT/ssh) -----------
if want sshd && need_netns sshd; then
    ok=1
    for h in $HOSTS; do
        run_part "sshd-$h" env SSHD_NETNS="$h" "$INFRA_DIR/sshd-up.sh" || { ok=0; break; }
    done
    if [ $ok = 1 ]; then
        UP+=(sshd)
        echo "export HS_SSH_CONFIG=$INFRA_ROOT/ssh/config" >> "$ENV_FILE.new"
    else
        # all or nothing: no half set of hosts for the tests
        "$INFRA_DIR/sshd-down.sh" --all >>"$LOGS/sshd-down.log" 2>&1 || true
    fi
fi

# --- Open MPI (mpi-check.sh also runs mpirun across the hosts over ssh when sshd is up) -----------
if want mpi && run_part mpi "$INFRA_DIR/mpi-check.sh"; then
    UP+=(mpi)
    echo "export HS_MPIRUN_ENV=$INFRA_ROOT/mpi/env.sh" >> "$ENV_FILE.new"
fi

# --- collect the background parts ------------------------------------------------------------------
if want pg && finish_part pg; then
    UP+=(pg)
    cat "$INFRA_ROOT/pg/env.sh" >> "$ENV_FILE.new"   # PGHOST PGPORT PGUSER PGDATABASE DATABASE_URL
fi
if [ $SLURM_STARTED = 1 ]; then
    if finish_part slurm; then
        UP+=(slurm)
        echo "export HS_SLURM_CONF=$INFRA_ROOT/slurm/slurm.conf" >> "$ENV_FILE.new"
    else
        "$INFRA_DIR/slurm-down.sh" >>"$LOGS/slurm-down.log" 2>&1 || true
    fi
fi

mv "$ENV_FILE.new" "$ENV_FILE"
say "infrastructure: ${UP[*]:-nothing} up in $(since "$T0") s (${SUMMARY[*]:-}); variables: . $ENV_FILE"
