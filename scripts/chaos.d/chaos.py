#!/usr/bin/env python3
"""The chaos suite's driver (run it through scripts/chaos, which sets up PostgreSQL and a
network-namespace host): each scenario runs a real hs workload with bounded counts and times,
injects its fault, and is judged from the evidence alone:

* marker lines every task appends to one file (O_APPEND, one short line per write, so lines
  never mix): `S id time pid engine` when it starts, `E id time pid engine rc` when its body
  ended, `X id time pid engine SIG` when a stop signal reached its shell;
* the store, read back with `hs list --json` (SQLite or PostgreSQL alike);
* the exit status of every hs process the scenario started;
* the processes still carrying the scenario's unique marker (`HSCHAOS=<token>` in their
  environment, which every hs process and every task inherits, or the token on their command
  line) once the scenario is over.

It prints one table, a row per scenario, and exits 1 when a row fails. Standard library only.
"""

import argparse
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

KEY = "chaos-suite-key-0123456789abcdef"
HEART = ["--heartrate", "0.25", "--evict", "2"]


# ---------------------------------------------------------------------------------------------
# processes the suite started


def token_pids(token):
    """Pids of live processes carrying `token` in their environment or command line."""
    found = []
    me = os.getpid()
    needle_env = f"HSCHAOS={token}".encode()
    needle = token.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            if state == b"Z":
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle_env in env.split(b"\0") or needle in cmd:
            found.append(int(entry))
    return found


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:80]
    except OSError:
        return "?"


def orphan_watchdogs():
    """Containment watchdogs (the /bin/sh an engine starts to remove its task cgroups should it
    die, engine/src/executor/cgroup.rs) whose engine is gone. Each should end within about 5 s
    of its engine; it carries no scenario marker (its environment is PATH alone)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if len(args) < 4 or args[:2] != [b"/bin/sh", b"-c"] or not args[2].startswith(b"trap '' INT"):
            continue
        m = re.search(rb"/hs-(\d+)$", args[3])
        if m and not os.path.exists(f"/proc/{int(m.group(1))}"):
            found.append(int(entry))
    return found


class Scenario:
    """One row: its folder, its processes, its faults and the evidence they leave."""

    def __init__(self, suite, name, db="sqlite"):
        self.suite = suite
        self.name = name
        self.dir = suite.root / name
        self.dir.mkdir(parents=True)
        self.site = self.dir / "site"
        self.marks = self.dir / "marks"
        self.marks.touch()
        self.token = f"hschaos-{os.getpid()}-{name}"
        # Watchdogs of engines gone before this row began are not its own.
        self.watchdogs_before = set(orphan_watchdogs())
        self.procs = {}  # label -> Popen
        self.codes = []  # (label, exit status) in the order they ended
        self.faults = []  # (time, what, engine label or None)
        self.killed = {}  # engine label -> time it was killed with SIGKILL
        self.stopped = {}  # engine label -> time it was sent a signal that stops its tasks
        self.exited = {}  # label -> time its process was seen to have ended
        self.notes = []
        self.db_url = None
        self.n = 0
        self.expect_stopped = set()  # task ids whose final outcome must be a stop (walltime)
        self.expect_rc = {}  # task id -> exit status its body must end with
        self.output_lost_ok = False  # -5 (output lost) is a true outcome: stdout's reader left
        if db == "postgres":
            base = suite.pg_url.rsplit("/", 1)[0]
            name_db = "chaos_" + re.sub(r"[^a-z0-9]", "_", name.lower())
            subprocess.run(
                ["psql", "-X", "-q", suite.pg_url, "-c", f"DROP DATABASE IF EXISTS {name_db}",
                 "-c", f"CREATE DATABASE {name_db}"],
                check=True, capture_output=True)
            self.db_url = f"{base}/{name_db}"

    # --- tasks ---------------------------------------------------------------------------------

    def task(self, i, body="sleep 0.2", rc=0, traps=True):
        """The command line of task `i`: marker lines around `body` (which ends with `rc`)."""
        m = self.marks
        if rc is not None:
            self.expect_rc[i] = rc
        trap = ""
        if traps:
            trap = "".join(
                f"trap 'm X {s}; exit {128 + n}' {s}; " for s, n in (("INT", 2), ("TERM", 15), ("HUP", 1))
            )
        return (
            f": chaos-id={i}; export HSCHAOS={self.token}; "
            f'm() {{ echo "$1 {i} $EPOCHREALTIME $$ ${{HSCHAOS_ENGINE:-?}} $2" >> {m}; }}; '
            f"{trap}m S; eval {shlex.quote(body)}; rc=$?; m E $rc; exit $rc"
        )

    def write_tasks(self, lines, name="tasks.txt"):
        path = self.dir / name
        path.write_text("".join(line + "\n" for line in lines))
        self.n = max(self.n, len(lines))
        return path

    def sleepers(self, n, lo=0.05, hi=0.3, seed=1):
        rnd = random.Random(seed)
        return [self.task(i, f"sleep {rnd.uniform(lo, hi):.2f}") for i in range(1, n + 1)]

    # --- processes ---------------------------------------------------------------------------

    def env(self, engine):
        e = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSHELL_")}
        e.update(HYPERSHELL_SITE=str(self.site), HSCHAOS=self.token, HSCHAOS_ENGINE=engine)
        if self.db_url:
            e["HYPERSHELL_DATABASE_URL"] = self.db_url
        return e

    def spawn(self, label, args, engine=None, stdin=None, prefix=(), shell=None):
        """Start `hs ARGS` (or a shell line) as `label`, its output in LABEL.out / LABEL.err."""
        out = open(self.dir / f"{label}.out", "wb")
        err = open(self.dir / f"{label}.err", "wb")
        if shell is not None:
            argv = ["bash", "-c", shell]
        else:
            argv = [*prefix, str(self.suite.hs), *args]
        p = subprocess.Popen(
            argv, cwd=self.dir, env=self.env(engine or label),
            stdin=open(stdin, "rb") if stdin else subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True)
        self.procs[label] = p
        return p

    def hs(self, args, label="cmd", timeout=60, stdin=None):
        """Run `hs ARGS` to its end; its exit status goes into the row."""
        p = self.spawn(label, args, stdin=stdin)
        return self.wait(label, timeout)

    def wait(self, label, timeout):
        p = self.procs[label]
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.notes.append(f"{label} still running after {timeout}s: killed")
            p.kill()
            rc = p.wait()
            rc = f"timeout({rc})"
        self.exited[label] = time.time()
        self.codes.append((label, rc))
        return rc

    def stderr(self, label):
        return (self.dir / f"{label}.err").read_text(errors="replace")

    def signal(self, label, sig, engine=True):
        """Send `sig` to a process of ours; SIGKILL on an engine makes its tasks killable twice."""
        p = self.procs[label]
        now = time.time()
        p.send_signal(sig)
        name = signal.Signals(sig).name
        self.faults.append((now, f"{name} {label}", label))
        self.log_fault(f"{name} {label}")
        if engine and sig == signal.SIGKILL:
            self.killed[label] = now
        elif engine and sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2):
            self.stopped[label] = now

    def fault(self, what):
        self.faults.append((time.time(), what, None))
        self.log_fault(what)

    def log_fault(self, what):
        """faults.log: when each fault was injected, on the marker lines' clock."""
        with open(self.dir / "faults.log", "a") as f:
            f.write(f"{time.time():.6f} {what}\n")

    def alive(self, label):
        return self.procs[label].poll() is None

    def started(self):
        return sum(1 for line in self.read_marks() if line[0] == "S")

    def ended(self):
        return len({line[1] for line in self.read_marks() if line[0] == "E"})

    def wait_for(self, cond, limit, what):
        end = time.time() + limit
        while time.time() < end:
            if cond():
                return True
            time.sleep(0.05)
        self.notes.append(f"never saw {what} within {limit}s")
        return False

    def read_marks(self):
        rows = []
        for line in self.marks.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0] in "SEX":
                rows.append(parts)
        return rows

    # --- the verdict -------------------------------------------------------------------------

    def stored(self):
        """Rows of the store by task id (from `chaos-id=N` in their args)."""
        p = subprocess.run(
            [str(self.suite.hs), "list", "--json"], cwd=self.dir, env=self.env("list"),
            capture_output=True, timeout=60)
        if p.returncode != 0:
            return None, p.stderr.decode(errors="replace").strip().splitlines()[-1:]
        rows = {}
        for r in json.loads(p.stdout or b"[]"):
            m = re.search(r"chaos-id=(\d+)", r.get("args") or "")
            if m:
                rows.setdefault(int(m.group(1)), []).append(r)
        return rows, None

    def leftovers(self):
        """Processes carrying the marker once every hs process has ended: counted, then ended."""
        for p in self.procs.values():
            if p.poll() is None:
                self.notes.append(f"hs pid {p.pid} still running at the end: killed")
                p.kill()
                p.wait()
        time.sleep(0.5)
        left = token_pids(self.token)
        if left:
            self.notes.append("left behind: " + "; ".join(f"{p} {describe(p)}" for p in left[:4]))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # A watchdog still there 6 s after its engine went never did its job (or never ends).
        deadline = time.time() + 6
        stuck = [w for w in orphan_watchdogs() if w not in self.watchdogs_before]
        while stuck and time.time() < deadline:
            time.sleep(0.2)
            stuck = [w for w in orphan_watchdogs() if w not in self.watchdogs_before]
        if stuck:
            self.notes.append("watchdogs of ended engines left behind: "
                              + "; ".join(f"{p} {describe(p)}" for p in stuck[:4]))
        return len(left) + len(stuck)

    def verdict(self, want_codes):
        marks = self.read_marks()
        runs = {}  # id -> [execution dict]
        by_pid = {}
        for kind, tid, t, pid, eng, *rest in marks:
            tid = int(tid)
            key = (tid, pid)
            if kind == "S":
                ex = {"start": float(t), "end": None, "engine": eng, "rc": None, "stop": None}
                runs.setdefault(tid, []).append(ex)
                by_pid[key] = ex
            elif key in by_pid:
                ex = by_pid[key]
                if kind == "E":
                    ex["end"] = float(t)
                    ex["rc"] = int(rest[0]) if rest else None
                else:
                    ex["stop"] = float(t)
        ids = range(1, self.n + 1)
        rows, store_err = self.stored()
        lost = []
        for i in ids:
            finished = any(ex["end"] is not None or ex["stop"] is not None for ex in runs.get(i, []))
            row_done = rows is not None and any(r.get("exit_status") is not None for r in rows.get(i, []))
            if not (finished or i in self.expect_stopped) or not row_done:
                lost.append(i)
        # executions of the same task: each earlier one must have ended (or died with its killed
        # engine) before the next began; finishing twice is allowed only on a killed engine
        twice, explained, concurrent = [], 0, []
        for i, exs in runs.items():
            if len(exs) < 2:
                continue
            exs.sort(key=lambda e: e["start"])
            twice.append(i)
            ok = True
            for a, b in zip(exs, exs[1:]):
                killed_at = self.killed.get(a["engine"])
                if a["end"] is not None:
                    until = a["end"]
                    if killed_at is None or until > killed_at:
                        ok = False  # finished, and not on an engine that was killed after it
                elif a["stop"] is not None:
                    until = a["stop"]
                elif killed_at is not None:
                    until = killed_at
                elif a["engine"] in self.stopped:
                    # No marker: it ended (its tasks die with it) no later than its engine
                    # did, which may be well after the signal was sent.
                    until = self.exited.get(a["engine"])
                else:
                    until = None
                if until is None or until > b["start"] + 0.001:
                    concurrent.append(i)
                    ok = False
            explained += ok
        finished_twice = [i for i, exs in runs.items()
                          if sum(ex["end"] is not None for ex in exs) > 1]
        # stored outcome: exactly one final row, matching the last execution
        wrong = []
        if rows is None:
            wrong = list(ids)
        else:
            for i in ids:
                rs = rows.get(i, [])
                done = [r for r in rs if r.get("exit_status") is not None]
                exs = runs.get(i, [])
                if len(rs) != 1 or len(done) != 1:
                    wrong.append(i)
                    continue
                status = done[0]["exit_status"]
                last = exs[-1] if exs else None
                if i in self.expect_stopped or (last and last["end"] is None):
                    good = status < 0
                else:
                    good = last is not None and status == last["rc"] == self.expect_rc.get(i, last["rc"])
                    good = good or (self.output_lost_ok and status == -5)
                if not good:
                    wrong.append(i)
        left = self.leftovers()
        got = ",".join(str(c) for _, c in self.codes)
        codes_ok = got == want_codes
        unexplained = len(twice) - explained
        ok = (not lost and unexplained == 0 and not wrong and left == 0 and codes_ok
              and (not finished_twice or all(i not in concurrent for i in finished_twice)))
        if lost:
            self.notes.append(f"lost ids {lost[:8]}")
        if wrong:
            detail = []
            for i in wrong[:4]:
                st = [r.get("exit_status") for r in (rows or {}).get(i, [])]
                ex = [(e["engine"], e["rc"], "stop" if e["stop"] else "") for e in runs.get(i, [])]
                detail.append(f"{i}: stored {st} ran {ex}")
            self.notes.append("wrong stored outcome " + "; ".join(detail))
        if store_err:
            self.notes.append(f"store unreadable: {store_err}")
        if concurrent:
            self.notes.append(f"ran concurrently with its re-run: ids {sorted(set(concurrent))[:8]}")
        if not codes_ok:
            self.notes.append(f"exit codes {got}, expected {want_codes}")
        run_twice = f"{len(twice)}"
        if twice:
            run_twice += f" ({explained} killed/stopped engine, {len(finished_twice)} finished twice)"
        return {
            "scenario": self.name,
            "tasks": str(self.n),
            "faults": self.fault_summary(),
            "lost": str(len(lost)),
            "run twice": run_twice,
            "store": "yes" if not wrong else f"NO ({len(wrong)})",
            "left": str(left),
            "exit codes": got,
            "result": "PASS" if ok else "FAIL",
            "notes": self.notes,
        }

    def fault_summary(self):
        kinds = {}
        for _, what, _ in self.faults:
            k = what.split(" ")[0] if what.split(" ")[0].startswith("SIG") else what
            kinds[k] = kinds.get(k, 0) + 1
        return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in kinds.items()) or "-"


# ---------------------------------------------------------------------------------------------
# scenarios: each returns the verdict of its Scenario


def server_args(tasks_file, *extra):
    return ["server", str(tasks_file), "-k", KEY, *HEART, *extra]


def engine_args(port, n, *extra):
    return ["client", "-p", str(port), "-k", KEY, "-N", str(n), *extra]


def engine_kill_storm(suite, tasks, kills, every):
    s = Scenario(suite, "engine-kill-storm")
    f = s.write_tasks(s.sleepers(tasks, 0.3, 0.8))
    port = suite.port()
    s.spawn("server", server_args(f, "-p", str(port)))
    live = []
    for k in range(3):
        s.spawn(f"e{k}", engine_args(port, 4))
        live.append(f"e{k}")
    s.wait_for(lambda: s.started() > 0, 20, "a task start")
    nxt = 3
    for _ in range(kills):
        time.sleep(every)
        if not s.alive("server"):
            break
        victim = random.Random(nxt).choice(live)
        s.signal(victim, signal.SIGKILL)
        s.wait(victim, 10)
        live.remove(victim)
        s.spawn(f"e{nxt}", engine_args(port, 4))
        live.append(f"e{nxt}")
        nxt += 1
    s.wait("server", 120)
    for e in live:
        s.wait(e, 20)
    kills_done = sum(1 for c in s.codes if c[1] == -9)
    if kills_done < kills:
        s.notes.append(f"the run ended after {kills_done} of {kills} kills")
    return s.verdict(",".join(["-9"] * kills + ["0"] * (1 + len(live))))


def controller_kill9(suite, db, tasks, kills):
    s = Scenario(suite, f"controller-kill9-{db}", db=db)
    if db == "postgres":
        s.hs(["initdb"], label="initdb")
    f = s.write_tasks(s.sleepers(tasks, 0.05, 0.15))
    port = suite.port()
    s.spawn("server", server_args(f, "-p", str(port)))
    engines = []
    for k in range(2):
        s.spawn(f"e{k}", engine_args(port, 3))
        engines.append(f"e{k}")
    label = "server"
    for k in range(kills):
        target = tasks * (k + 1) // (kills + 1)
        s.wait_for(lambda: s.ended() >= target, 60, f"{target} tasks done")
        s.signal(label, signal.SIGKILL, engine=False)
        s.wait(label, 10)
        label = f"restart{k + 1}"
        s.spawn(label, ["server", "--restart", "-p", str(port), "-k", KEY, *HEART, "--restart-grace", "4"])
    s.wait(label, 120)
    for e in engines:
        s.wait(e, 30)
    want = ["-9"] * kills + ["0", "0", "0"]
    if db == "postgres":
        want.insert(0, "0")
    return s.verdict(",".join(want))


def link_cut(suite, seconds, tag):
    """An engine cut off its controller for `seconds` (its namespace's link down, or SIGSTOP)."""
    s = Scenario(suite, f"link-cut-{tag}")
    f = s.write_tasks(s.sleepers(120, 0.3, 1.2))
    port = suite.port()
    if suite.netns:
        host, ip = suite.netns
        s.spawn("server", server_args(f, "-p", str(port), "-H", ip.rsplit(".", 1)[0] + ".1"))
        s.spawn("cut", ["client", "-H", ip.rsplit(".", 1)[0] + ".1", "-p", str(port), "-k", KEY, "-N", "3"],
                prefix=["nsenter", f"--net=/var/run/netns/{host}"])
        s.spawn("e1", ["client", "-H", ip.rsplit(".", 1)[0] + ".1", "-p", str(port), "-k", KEY, "-N", "3"])
    else:
        s.spawn("server", server_args(f, "-p", str(port)))
        s.spawn("cut", engine_args(port, 3))
        s.spawn("e1", engine_args(port, 3))
    s.wait_for(lambda: s.ended() >= 10, 30, "10 tasks done")
    how = "netns" if suite.netns else "SIGSTOP"
    s.fault(f"link cut {seconds}s ({how})")
    t0 = time.time()
    if suite.netns:
        suite.link(suite.netns[0], "down")
        time.sleep(seconds)
        suite.link(suite.netns[0], "up")
    else:
        s.procs["cut"].send_signal(signal.SIGSTOP)
        time.sleep(seconds)
        s.procs["cut"].send_signal(signal.SIGCONT)
    s.log_fault("link restored")
    s.notes.append(f"cut for {time.time() - t0:.1f}s with --evict 2 ({how})")
    s.wait("server", 120)
    s.wait("cut", 60)
    s.wait("e1", 30)
    return s.verdict("0,0,0")


def pg_outage(suite, mode):
    s = Scenario(suite, f"postgres-{mode}", db="postgres")
    s.hs(["initdb"], label="initdb")
    f = s.write_tasks(s.sleepers(300, 0.05, 0.15))
    s.spawn("cluster", ["cluster", str(f), "-N", "4", "--db-wait", "30"])
    s.wait_for(lambda: s.ended() >= 40, 30, "40 tasks done")
    s.fault(f"PostgreSQL {mode}")
    suite.pg(mode)
    time.sleep(3)
    suite.pg("start")
    s.wait("cluster", 120)
    return s.verdict("0,0")


def full_disk(suite, tasks):
    s = Scenario(suite, "full-disk")
    s.site.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(s.site)]).returncode:
        s.notes.append("cannot mount a tmpfs")
        return s.verdict("mount")
    try:
        f = s.write_tasks([s.task(i, "true") for i in range(1, tasks + 1)])
        s.fault("disk full (700 KiB tmpfs)")
        s.hs(["cluster", str(f), "-N", "4"], label="first", timeout=120)
        subprocess.run(["mount", "-o", "remount,size=40m", str(s.site)], check=True)
        s.hs(["cluster", str(f), "-N", "4"], label="again", timeout=120)
        return s.verdict("5,0")
    finally:
        subprocess.run(["umount", "-l", str(s.site)])


def read_only_db(suite, long):
    """The database turns read-only mid-run (PostgreSQL's default_transaction_read_only, which a
    reload applies to open sessions too). Shorter than --db-wait: the run waits it out and ends
    well. Longer: the run exits 5, and once the database is writable the same command again
    finishes it without running any task twice."""
    s = Scenario(suite, "read-only-db-" + ("long" if long else "short"), db="postgres")
    s.hs(["initdb"], label="initdb")
    f = s.write_tasks(s.sleepers(200, 0.05, 0.15))
    wait = "2" if long else "30"
    args = ["cluster", str(f), "-N", "4", "--db-wait", wait]
    s.spawn("first", args)
    s.wait_for(lambda: s.ended() >= 30, 30, "30 tasks done")
    s.fault("database read-only (PostgreSQL) " + ("6 s, --db-wait 2" if long else "3 s, --db-wait 30"))
    suite.pg("read-only")
    try:
        if long:
            s.wait("first", 60)
        else:
            time.sleep(3)
    finally:
        suite.pg("writable")
    if long:
        s.hs(args, label="again", timeout=120)
        return s.verdict("0,5,0")
    s.wait("first", 120)
    return s.verdict("0,0")


ENGINE_CODES = {"INT": "4", "TERM": "4", "HUP": "4", "USR1": "0", "USR2": "0"}


def signal_engine(suite, name, tasks=60):
    s = Scenario(suite, f"signal-engine-{name}")
    f = s.write_tasks(s.sleepers(tasks, 0.3, 0.8))
    port = suite.port()
    s.spawn("server", server_args(f, "-p", str(port)))
    s.spawn("target", engine_args(port, 3))
    s.spawn("e1", engine_args(port, 3))
    s.wait_for(lambda: s.ended() >= 6, 30, "6 tasks done")
    s.signal("target", getattr(signal, f"SIG{name}"))
    s.wait("target", 30)
    s.wait("server", 120)
    s.wait("e1", 30)
    return s.verdict(f"{ENGINE_CODES[name]},0,0")


def signal_controller(suite, name):
    s = Scenario(suite, f"signal-controller-{name}")
    f = s.write_tasks(s.sleepers(60, 0.3, 0.8))
    s.spawn("cluster", ["cluster", str(f), "-N", "4"])
    s.wait_for(lambda: s.ended() >= 6, 30, "6 tasks done")
    s.signal("cluster", getattr(signal, f"SIG{name}"))
    s.wait("cluster", 30)
    s.hs(["cluster", "--restart", "-N", "4"], label="restart", timeout=120)
    return s.verdict(f"{ENGINE_CODES[name]},0")


def nasty(suite, kind, big_mb):
    s = Scenario(suite, f"nasty-{kind}")
    plain = lambda i: s.task(i, "sleep 0.1")  # noqa: E731
    extra = []
    want = "0"
    out_check = None
    if kind == "daemons":
        bodies = ["setsid sleep 300 &", "sleep 300 & disown", "(sleep 300 &) ; true",
                  "nohup sleep 300 >/dev/null 2>&1 &", "setsid bash -c 'sleep 300 & sleep 300' &"]
        lines = [s.task(i + 1, b) for i, b in enumerate(bodies)] + [plain(i) for i in range(6, 13)]
    elif kind == "closed-stdout":
        lines = [s.task(1, "exec 1>&-; echo lost", rc=1), s.task(2, "exec 1>&- 2>&-; sleep 0.2; true"),
                 s.task(3, "exec 0<&- 1>&- 2>&-; true")] + [plain(i) for i in range(4, 11)]
    elif kind == "big-output":
        n_lines = big_mb * 1000
        lines = [s.task(1, f"set +o pipefail; yes {'x' * 999} | head -n {n_lines}")] + [plain(i) for i in range(2, 9)]
        out_check = (1000 * n_lines, 1000)
    elif kind == "stdin-readers":
        lines = [s.task(1, "cat >/dev/null"), s.task(2, "read -r x", rc=1),
                 s.task(3, "head -c 10 >/dev/null"), s.task(4, "cat | wc -c >/dev/null")] + \
            [plain(i) for i in range(5, 11)]
    elif kind == "walltime-ignorers":
        extra = ["-W", "1", "-S", "0.5"]
        bodies = ["trap '' INT TERM; sleep 30", "trap 'exit 0' INT TERM; sleep 30 & wait",
                  "trap '' INT TERM HUP; setsid sleep 30 & sleep 30"]
        lines = [s.task(i + 1, b, rc=None, traps=False) for i, b in enumerate(bodies)] + \
            [plain(i) for i in range(4, 11)]
        s.expect_stopped = {1, 2, 3}
    elif kind == "slow-consumer":
        lines = [s.task(i, "seq 2000; sleep 0.05") for i in range(1, 41)]
        out_check = (40 * 2000, None)
    elif kind == "reader-gone":
        lines = [s.task(i, "seq 5000; sleep 0.1") for i in range(1, 41)]
        want = "4,0"
        s.output_lost_ok = True
    f = s.write_tasks(lines)
    args = ["cluster", str(f), "-N", "4", *extra]
    hs = shlex.join([str(suite.hs), *args])
    if kind == "slow-consumer":
        s.fault("stdout read after 3 s")
        s.spawn("cluster", [], shell=f"{hs} | (sleep 3; cat > out.txt)")
        s.wait("cluster", 120)
    elif kind == "reader-gone":
        s.fault("stdout reader exits after 1 s")
        s.spawn("cluster", [], shell=f"set -o pipefail; {hs} | sleep 1; exit ${{PIPESTATUS[0]}}")
        s.wait("cluster", 120)
        s.hs(["cluster", "--restart", "-N", "4", "-o", "/dev/null"], label="restart", timeout=120)
    else:
        s.fault(kind)
        s.spawn("cluster", args)
        s.wait("cluster", 180)
    if out_check:
        path = s.dir / ("out.txt" if kind == "slow-consumer" else "cluster.out")
        size = path.stat().st_size
        if kind == "slow-consumer":
            got = len(path.read_text().splitlines())
        else:
            got = size
        if got < out_check[0]:
            s.notes.append(f"output short: {got} of {out_check[0]}")
            s.codes.append(("output", "short"))
            want += ",0"
        else:
            s.notes.append(f"output whole: {got}")
    return s.verdict(want)


# ---------------------------------------------------------------------------------------------


class Suite:
    def __init__(self, args):
        self.hs = Path(args.hs).resolve()
        self.root = Path(args.dir)
        self.pg_url = args.pg_url
        self.pg_ctl = args.pg_ctl
        self.netns = tuple(args.netns.split(":")) if args.netns else None
        self.link_cmd = args.link
        self._port = random.Random().randrange(21000, 29000, 5)

    def port(self):
        """A base port whose three ports (engine, heartbeat, client) are free on loopback."""
        import socket
        while True:
            self._port += 5
            try:
                for k in range(3):
                    with socket.socket() as so:
                        so.bind(("0.0.0.0", self._port + k))
                return self._port
            except OSError:
                continue

    def link(self, host, state):
        subprocess.run([*shlex.split(self.link_cmd), host, state], check=True, capture_output=True)

    def pg(self, mode):
        subprocess.run([*shlex.split(self.pg_ctl), mode], check=True, capture_output=True)


def scenarios(suite, small):
    """(name, thunk) in running order; --small picks a few quick ones."""
    if small:
        return [
            ("engine-kill-storm", lambda: engine_kill_storm(suite, 80, 3, 0.7)),
            ("controller-kill9-sqlite", lambda: controller_kill9(suite, "sqlite", 120, 3)),
            ("signal-engine-TERM", lambda: signal_engine(suite, "TERM", 30)),
            ("nasty-daemons", lambda: nasty(suite, "daemons", 1)),
            ("nasty-walltime-ignorers", lambda: nasty(suite, "walltime-ignorers", 1)),
        ]
    rows = [
        ("engine-kill-storm", lambda: engine_kill_storm(suite, 600, 12, 1.5)),
        ("controller-kill9-sqlite", lambda: controller_kill9(suite, "sqlite", 400, 3)),
    ]
    if suite.pg_url:
        rows.append(("controller-kill9-postgres", lambda: controller_kill9(suite, "postgres", 400, 3)))
    rows += [
        ("link-cut-short", lambda: link_cut(suite, 1, "short")),
        ("link-cut-long", lambda: link_cut(suite, 5, "long")),
    ]
    if suite.pg_url:
        rows += [("postgres-stop", lambda: pg_outage(suite, "stop")),
                 ("postgres-crash", lambda: pg_outage(suite, "crash"))]
    rows += [
        ("full-disk", lambda: full_disk(suite, 3000)),
    ]
    if suite.pg_url:
        rows += [("read-only-db-short", lambda: read_only_db(suite, False)),
                 ("read-only-db-long", lambda: read_only_db(suite, True))]
    for name in ENGINE_CODES:
        rows.append((f"signal-engine-{name}", lambda n=name: signal_engine(suite, n)))
    for name in ENGINE_CODES:
        rows.append((f"signal-controller-{name}", lambda n=name: signal_controller(suite, n)))
    for kind in ["daemons", "closed-stdout", "big-output", "stdin-readers", "walltime-ignorers",
                 "slow-consumer", "reader-gone"]:
        rows.append((f"nasty-{kind}", lambda k=kind: nasty(suite, k, 100)))
    return rows


COLUMNS = ["scenario", "tasks", "faults", "lost", "run twice", "store", "left", "exit codes", "result"]
HEADERS = {"store": "store consistent", "left": "left behind", "run twice": "run twice (explained)"}


def table(rows):
    lines = ["| " + " | ".join(HEADERS.get(c, c) for c in COLUMNS) + " |",
             "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r[c] for c in COLUMNS) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hs", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--pg-url", default="")
    ap.add_argument("--pg-ctl", default="", help="command taking stop|crash|start")
    ap.add_argument("--netns", default="", help="HOST:IP of a namespace host")
    ap.add_argument("--link", default="", help="command taking HOST down|up")
    args = ap.parse_args()
    suite = Suite(args)
    results = []
    t_all = time.time()
    for name, thunk in scenarios(suite, args.small):
        if args.only and not re.search(args.only, name):
            continue
        t0 = time.time()
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            r = thunk()
        except Exception as e:  # a scenario that breaks is a failed row, not a crashed suite
            r = {c: "-" for c in COLUMNS}
            r.update(scenario=name, result="FAIL", notes=[f"scenario error: {e!r}"])
            for pid in token_pids(f"hschaos-{os.getpid()}-{name}"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        r["notes"].append(f"{time.time() - t0:.1f}s")
        print(f"   {r['result']}: " + "; ".join(r["notes"]), file=sys.stderr, flush=True)
        results.append(r)
    print(table(results))
    failed = [r["scenario"] for r in results if r["result"] != "PASS"]
    print(f"\n{len(results) - len(failed)} of {len(results)} scenarios passed in "
          f"{time.time() - t_all:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
