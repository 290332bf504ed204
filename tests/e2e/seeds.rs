//! Every `hs`, `hsx` and `hyper-shell` command line of the documents hs comes from
//! (`shared/seeds/`), run as a user would copy it: one row per command line, with the seed, the
//! adaptation to this machine (ports, keys long enough for 2.8.2's rule, hosts, sizes) and what
//! is checked. Rows that need Slurm or the ssh hosts skip visibly without them.
//!
//! Seeds: `000` = the hyper-shell 1.8.3 guide (Japanese), `001` = HyperShell's docs index,
//! `002` = the NERSC training slides, `004` = the 2.x `hyper-shell cluster` manual page.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::*;

/// What a row needs beyond hs itself.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    Nothing,
    Slurm,
    Ssh,
}

struct Row {
    seed: &'static str,
    /// The command line as the document prints it.
    original: &'static str,
    /// The same command adapted to this machine, run by bash in a fresh folder that is also the
    /// site; `$PORT` (a free port) and `$KEY` (a 32-hex-digit key) are set.
    run: &'static str,
    needs: Needs,
    /// What must hold afterwards; `Err` says what did not.
    check: fn(&Outcome) -> Result<(), String>,
}

struct Outcome<'a> {
    out: Output,
    dir: &'a Path,
}

impl Outcome<'_> {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    fn stdout(&self) -> String {
        stdout(&self.out)
    }
    fn stderr(&self) -> String {
        stderr(&self.out)
    }
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
    fn files_in(&self, folder: &str) -> usize {
        std::fs::read_dir(self.dir.join(folder)).map_or(0, |d| d.count())
    }
    fn expect(&self, ok: bool, what: &str) -> Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{what}; exit {:?}\nstdout:\n{}\nstderr:\n{}",
                self.code(),
                self.stdout(),
                self.stderr()
            ))
        }
    }
}

/// The slides' failures file holds the one failing line of task.in.
fn false_line_in_task_failed(o: &Outcome) -> Result<(), String> {
    o.expect(
        o.file("task.failed") == "false\n",
        "the false line in task.failed",
    )
}

/// Lines of stdout.
fn lines(o: &Outcome) -> usize {
    o.stdout().lines().count()
}

/// Files every row may use: TASKFILE (5 echoes and a `false`), tasks.in (20 file names),
/// task.in (true/false lines), in/ with a NEEDLE, some_program.py and my_code.
const SETUP: &str = r#"
set -e
printf 'echo 1\necho 2\necho 3\necho 4\necho 5\nfalse\n' > TASKFILE
for i in $(seq 20); do echo "data/file$i.txt"; done > tasks.in
printf 'true\ntrue\nfalse\ntrue\n' > task.in
mkdir -p in out outputs data
echo 'a NEEDLE here' > in/a.txt; echo 'nothing' > in/b.txt
printf '#!/usr/bin/env bash\necho "processed $1"\n' > some_program.py
printf '#!/usr/bin/env bash\necho "my_code $1"\n' > my_code
chmod +x some_program.py my_code
export PATH="$PWD:$PATH"
# A server started in the background has written its connection file (at most 10 s).
wait_for_server() {
    for _ in $(seq 100); do [ -e site/lib/security/server-$PORT.json ] && break; sleep 0.1; done
}
set +e
"#;

fn rows() -> Vec<Row> {
    vec![
        // ---------------------------------------------------------------- 000: 1.8.3 guide
        Row {
            seed: "000",
            original: "seq -w 10000 | hyper-shell cluster -N24 -t 'echo {}' | tail -4",
            run: "seq -w 2000 | hyper-shell cluster -N24 -t 'echo {}' | tail -4",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    lines(o) == 4 && o.stdout().lines().all(|l| l.len() == 4),
                    "4 four-digit lines",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell server -H 0.0.0.0 -k MY_KEY < TASKFILE > TASKFILE.failed",
            run: "hyper-shell server -H 0.0.0.0 -p $PORT -k MY_KEY < TASKFILE > TASKFILE.failed",
            needs: Needs::Nothing,
            // HyperShell 2.8.2 refuses keys under 16 characters too.
            check: |o| {
                o.expect(
                    o.code() == Some(2) && o.stderr().contains("16"),
                    "a short key is refused with exit 2",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell server -H 0.0.0.0 -k MY_KEY < TASKFILE > TASKFILE.failed; hyper-shell client -H host-1 -k MY_KEY > TASKFILE.out",
            run: "hyper-shell server -H 0.0.0.0 -p $PORT -k $KEY < TASKFILE > TASKFILE.failed & \
                  hyper-shell client -H localhost -p $PORT -k $KEY > TASKFILE.out; wait",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.file("TASKFILE.failed") == "false\n"
                        && o.file("TASKFILE.out").lines().count() == 5,
                    "failed line sieved, 5 outputs",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell cluster -t '{} >outputs/$TASK_ID.out'",
            run: "printf 'echo a\\necho b\\necho c\\n' | hyper-shell cluster -t '{} >outputs/$TASK_ID.out'",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && o.files_in("outputs") == 3,
                    "three files named by TASK_ID",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell cluster TASKFILE",
            run: "hyper-shell cluster TASKFILE",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    lines(o) == 5 && o.code() == Some(0),
                    "5 outputs; exit 0 with a failed task, as HyperShell",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell cluster TASKFILE -N16",
            run: "hyper-shell cluster TASKFILE -N16",
            needs: Needs::Nothing,
            check: |o| o.expect(lines(o) == 5, "5 outputs"),
        },
        Row {
            seed: "000",
            original: "hyper-shell cluster TASKFILE -N16 -f TASKFILE.failed",
            run: "hyper-shell cluster TASKFILE -N16 -f TASKFILE.failed",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.file("TASKFILE.failed") == "false\n",
                    "the failed line in TASKFILE.failed",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell",
            run: "hyper-shell",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stderr().contains("cluster") && o.stderr().contains("Usage"),
                    "usage with the commands",
                )
            },
        },
        Row {
            seed: "000",
            original: "man hyper-shell",
            run: "hs manpages man/man1 && grep -l cluster man/man1/hyper-shell.1 man/man1/hsx.1",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && lines(o) == 2,
                    "hyper-shell.1 and hsx.1 written",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell server - < TASKFILE > TASKFILE.failed",
            run: "hyper-shell server - -p $PORT < TASKFILE > TASKFILE.failed & \
                  hyper-shell client -p $PORT > /dev/null; wait",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.file("TASKFILE.failed") == "false\n",
                    "failed line sieved from stdin",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell server",
            // 2.8.2 reads stdin (1.8.3 printed its usage): an empty stdin is an empty run.
            run: "hyper-shell server -p $PORT < /dev/null",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && o.stderr().contains("no tasks"),
                    "empty input, exit 0",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell client -t '{} >$TASK_ID.out'",
            run: "hyper-shell server -p $PORT < TASKFILE > /dev/null & \
                  hyper-shell client -p $PORT -t '{} >$TASK_ID.out'; wait; ls *-*-*.out | wc -l",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "6", "one file per task"),
        },
        Row {
            seed: "000",
            original: "hyper-shell client",
            run: "hyper-shell server -p $PORT < TASKFILE > /dev/null & hyper-shell client -p $PORT; wait",
            needs: Needs::Nothing,
            check: |o| o.expect(lines(o) == 5, "the client ran the tasks"),
        },
        Row {
            seed: "000",
            original: "hyper-shell client -x600",
            run: concat!(
                "hs server --forever -p $PORT -k $KEY >server.out 2>server.log & SERVER=$!\n",
                "wait_for_server\n",
                "hyper-shell client -x1 -p $PORT -k $KEY; echo client=$?; kill -INT $SERVER; wait $SERVER"
            ),
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().contains("client=0"),
                    "-x is the idle timeout: the client left by itself",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell client -t 'my_code {} >outputs/{}.out'",
            run: "seq 3 | hyper-shell server -p $PORT > /dev/null & \
                  hyper-shell client -p $PORT -t 'my_code {} >outputs/{}.out'; wait; cat outputs/2.out",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "my_code 2",
                    "outputs/2.out from my_code",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell client -o outputs.txt",
            run: "hyper-shell server -p $PORT < TASKFILE > /dev/null & hyper-shell client -p $PORT -o outputs.txt; wait",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.file("outputs.txt").lines().count() == 5 && lines(o) == 0,
                    "outputs in outputs.txt",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell client --",
            run: "hyper-shell server -p 50001 < TASKFILE > /dev/null & hyper-shell client --; wait",
            needs: Needs::Nothing,
            check: |o| o.expect(lines(o) == 5, "`--` alone: all defaults (port 50001)"),
        },
        Row {
            seed: "000",
            original: "hyper-shell cluster",
            run: "hyper-shell cluster < TASKFILE",
            needs: Needs::Nothing,
            check: |o| o.expect(lines(o) == 5, "stdin by default"),
        },
        Row {
            seed: "000",
            original: "hyper-shell server -H 0.0.0.0",
            run: "hyper-shell server -H 0.0.0.0 -p $PORT < TASKFILE",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(2) && o.stderr().contains("-k"),
                    "no key on the network: refused, naming -k",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell server -H 0.0.0.0 -p 54321; hyper-shell client -H host-1 -p 54321",
            run: "hyper-shell server -H 0.0.0.0 -p $PORT -k $KEY < TASKFILE > /dev/null & \
                  hyper-shell client -H 127.0.0.1 -p $PORT -k $KEY; wait",
            needs: Needs::Nothing,
            check: |o| o.expect(lines(o) == 5, "tasks ran through the chosen port"),
        },
        Row {
            seed: "000",
            original: "hyper-shell server -H 0.0.0.0 -k MY_SPECIAL_KEY; hyper-shell client -H host-1 -k MY_SPECIAL_KEY",
            run: "hyper-shell server -H 0.0.0.0 -p $PORT --authkey MY_SPECIAL_KEY_0123 < TASKFILE > /dev/null & \
                  hyper-shell client -H localhost -p $PORT -k MY_SPECIAL_KEY_0123; wait",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    lines(o) == 5,
                    "the shared key (1.8.3's --authkey spelling too)",
                )
            },
        },
        Row {
            seed: "000",
            original: "hyper-shell client -t 'my_code ${TASK_ARG%.*}'",
            run: "echo data/file.txt | hyper-shell server -p $PORT > /dev/null & \
                  hyper-shell client -p $PORT -t 'my_code ${TASK_ARG%.*}'; wait",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "my_code data/file",
                    "TASK_ARG is the input line",
                )
            },
        },
        // ---------------------------------------------------------------- 001: docs index
        Row {
            seed: "001",
            original: "seq 4 | hs cluster -t 'echo {}'",
            run: "seq 4 | hs cluster -t 'echo {}' | sort",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout() == "1\n2\n3\n4\n", "1 to 4"),
        },
        Row {
            seed: "001",
            original: "hs cluster tasks.in -N16 --ssh-group=xyz --capture",
            run: "mkdir -p site && printf '[ssh.nodelist]\\nxyz = [\"h1\", \"h2\"]\\n' > site/config.toml && \
                  hs cluster tasks.in -N16 --ssh-group=xyz --capture --ssh-args \"-F $HS_SSH_CONFIG\" -H 10.77.0.1 -p $PORT -t 'echo {}' && \
                  hs list --count --completed",
            needs: Needs::Ssh,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && o.stdout().trim() == "20",
                    "20 tasks on the group's hosts",
                )
            },
        },
        Row {
            seed: "001",
            original: "hs cluster tasks.in -N128 -b128 --launcher=srun --max-retries=2 --delay-start=-60 >task.out",
            run: "hs cluster tasks.in -N4 -b4 --launcher='srun --nodes=3 --ntasks=3' -H 10.77.0.1 -p $PORT \
                  --max-retries=2 --delay-start=-2 -t 'echo {}' >task.out",
            needs: Needs::Slurm,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && o.file("task.out").lines().count() == 20,
                    "20 outputs in task.out",
                )
            },
        },
        Row {
            seed: "001",
            original: "hyper-shell server --forever --bind '0.0.0.0' --auth '<AUTHKEY>'; hs client --host '<HOSTNAME>' --auth '<AUTHKEY>' --capture",
            run: concat!(
                "hyper-shell server --forever --bind '0.0.0.0' -p $PORT --auth \"$KEY\" >server.out 2>server.log & SERVER=$!\n",
                "wait_for_server\n",
                "hs submit TASKFILE\n",
                "hs client --host localhost -p $PORT --auth \"$KEY\" --capture -T 2\n",
                "kill -INT $SERVER; wait $SERVER; ls site/lib/task/*.out | wc -l; hs list --count --completed"
            ),
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().split_whitespace().collect::<Vec<_>>() == ["6", "6"],
                    "6 captured, 6 completed",
                )
            },
        },
        Row {
            seed: "001",
            original: "hs cluster tasks.in -N12 -t './some_program.py {} >outputs/{/-}.out'",
            run: "hs cluster tasks.in -N12 -t './some_program.py {} >outputs/{/-}.out' && cat outputs/file7.out",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "processed data/file7.txt" && o.files_in("outputs") == 20,
                    "outputs/file7.out",
                )
            },
        },
        Row {
            seed: "001",
            original: "hs submit tasks.in --tag prod instr:B12 site:us-west-1 batch:12",
            run: "hs submit tasks.in --tag prod instr:B12 site:us-west-1 batch:12 && \
                  hs list --count -t prod instr:B12 site:us-west-1 batch:12",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "20", "20 tasks with all four tags"),
        },
        // ---------------------------------------------------------------- 002: slides
        Row {
            seed: "002",
            original: "seq 4 | hsx -t 'echo {}'",
            run: "seq 4 | hsx -t 'echo {}' | sort",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout() == "1\n2\n3\n4\n", "1 to 4"),
        },
        Row {
            seed: "002",
            original: "seq 12 | hsx -N4 -t 'sleep 1 && echo {}' --no-db --no-confirm",
            run: "seq 12 | hsx -N4 -t 'sleep 0.2 && echo {}' --no-db --no-confirm",
            needs: Needs::Nothing,
            check: |o| o.expect(o.code() == Some(0) && lines(o) == 12, "12 lines"),
        },
        Row {
            seed: "002",
            original: "find in/ -type f | hsx -N2 -t 'grep NEEDLE {} > out/{/-}.out' --no-db --no-confirm",
            run: "find in/ -type f | hsx -N2 -t 'grep NEEDLE {} > out/{/-}.out' --no-db --no-confirm; cat out/a.out",
            needs: Needs::Nothing,
            // grep finds nothing in b.txt: that task fails (exit 1), as it would in HyperShell.
            check: |o| {
                o.expect(
                    o.stdout().trim() == "a NEEDLE here" && o.files_in("out") == 2,
                    "out/a.out has the match",
                )
            },
        },
        Row {
            seed: "002",
            original: "hsx task.in -N4 --no-db --no-confirm -f task.failed",
            run: "hsx task.in -N4 --no-db --no-confirm -f task.failed",
            needs: Needs::Nothing,
            check: false_line_in_task_failed,
        },
        Row {
            seed: "002",
            original: "hsx task.in -N42 -f task.failed --no-db --no-confirm",
            run: "hsx task.in -N42 -f task.failed --no-db --no-confirm",
            needs: Needs::Nothing,
            check: false_line_in_task_failed,
        },
        Row {
            seed: "002",
            original: "export HYPERHELL_SITE=$(pwd); hsx task.in -N42 -f task.failed --no-db --no-confirm --capture",
            run: "export HYPERSHELL_SITE=$(pwd)/capture-site; hsx task.in -N42 -f task.failed --no-db --no-confirm --capture; \
                  ls capture-site/lib/task/*.out | wc -l",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "4", "one .out per task under the site"),
        },
        Row {
            seed: "002",
            original: "hsx task.in -N192 -b192 --launcher=srun -f task.failed --no-db --no-confirm 1>task.out 2>task.log",
            run: "hsx task.in -N8 -b8 --launcher='srun --nodes=3 --ntasks=3' -H 10.77.0.1 -p $PORT -f task.failed \
                  --no-db --no-confirm 1>task.out 2>task.log",
            needs: Needs::Slurm,
            check: false_line_in_task_failed,
        },
        Row {
            seed: "002",
            original: "hsx task.in -N192 -b192 -w60 --launcher=srun -f task.failed --no-db --no-confirm --delay-start=-30 1>task.out 2>task.log",
            run: "hsx task.in -N8 -b8 -w60 --launcher='srun --nodes=3 --ntasks=3' -H 10.77.0.1 -p $PORT -f task.failed \
                  --no-db --no-confirm --delay-start=-2 1>task.out 2>task.log",
            needs: Needs::Slurm,
            check: false_line_in_task_failed,
        },
        Row {
            seed: "002",
            original: "hs config --help",
            run: "hs config --help",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(0) && o.stdout().contains("which"),
                    "help lists which",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs config set logging.level debug --user; hs config which logging.level",
            run: "export HOME=$PWD/home; mkdir -p $HOME; unset HYPERSHELL_SITE; cd $HOME; \
                  hs config set logging.level debug --user && hs config which logging.level",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().contains("debug") && o.stdout().contains("user"),
                    "debug, from the user file",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs config edit --user",
            run: "export HOME=$PWD/home EDITOR=true; mkdir -p $HOME; hs config edit --user",
            needs: Needs::Nothing,
            check: |o| o.expect(o.code() == Some(0), "the editor ran"),
        },
        Row {
            seed: "002",
            original: "hs submit echo \"hello world\"",
            run: "hs submit echo \"hello world\" && hs list args",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout() == "echo \"hello world\"\n",
                    "one task, the words quoted as HyperShell quotes them",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs submit <(seq 100) --template \"echo {}\"; hsx --restart ...",
            run: "hs submit echo \"hello world\" >/dev/null && hs submit <(seq 100) --template \"echo {}\" && hsx --restart | wc -l",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "101",
                    "101 tasks submitted, then run by --restart",
                )
            },
        },
        Row {
            seed: "002",
            original: "hsx task.in -N4 --launcher=srun -f task.failed --no-db --no-confirm 1>task.out 2>task.log",
            run: "hsx task.in -N4 --launcher='srun --nodes=2 --ntasks=2' -H 10.77.0.1 -p $PORT -f task.failed \
                  --no-db --no-confirm 1>task.out 2>task.log",
            needs: Needs::Slurm,
            check: false_line_in_task_failed,
        },
        Row {
            seed: "002",
            original: "hs server --forever -k mykey123 --bind 0.0.0.0 --max-retries 2",
            run: "hs server --forever -k mykey123 --bind 0.0.0.0 -p $PORT --max-retries 2",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(2),
                    "an 8-character key is refused (as 2.8.2 does)",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs server --forever -k mykey123 --bind 0.0.0.0 --max-retries 2; hs client -N16 --host login07 -k mykey123 --timeout 60 --capture",
            run: concat!(
                "printf 'test -e marker || (touch marker; exit 1)\\n' > retry.in\n",
                "hs server --forever -k $KEY --bind 0.0.0.0 -p $PORT --max-retries 2 >server.out 2>server.log & SERVER=$!\n",
                "wait_for_server\n",
                "hs submit retry.in\n",
                "hs client -N16 --host localhost -p $PORT -k $KEY --timeout 2 --capture\n",
                "kill -INT $SERVER; wait $SERVER; hs list attempt exit_status -s attempt"
            ),
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout() == "1\t1\n2\t0\n",
                    "the failure retried once and succeeded",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs list -l1",
            run: "hs cluster TASKFILE >/dev/null; hs list -l1",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().matches("---").count() == 1 && o.stdout().contains("args"),
                    "one task block",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs list --count --remaining --with-tag site:b",
            run: "hs submit TASKFILE -t site:b && hs submit TASKFILE -t site:a && hs list --count --remaining --with-tag site:b",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "6", "6 remaining with site:b"),
        },
        Row {
            seed: "002",
            original: "seq 1000 | hs submit -t group:1 demo",
            run: "seq 1000 | hs submit -t group:1 demo && hs list --count -g 1 -t demo",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "1000",
                    "1000 tasks in group 1 tagged demo",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs update --cancel --remaining",
            run: "hs submit TASKFILE && echo yes | hs update --cancel --remaining && hs list --count -w 'exit_status == -1'",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "6", "6 cancelled after answering yes"),
        },
        Row {
            seed: "002",
            original: "hs update --delete --order-by submit_time --desc --limit 1",
            run: "hs submit TASKFILE && echo yes | hs update --delete --order-by submit_time --desc --limit 1 && \
                  hs list args -s submit_time | tail -1",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "echo 5",
                    "the newest task (false) deleted",
                )
            },
        },
        Row {
            seed: "002",
            original: "hs update phase:1 --completed",
            run: "hs cluster TASKFILE >/dev/null; hs submit echo later >/dev/null && echo yes | hs update phase:1 --completed && \
                  hs list --count -t phase:1",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "6", "the 6 completed tasks tagged"),
        },
        Row {
            seed: "002",
            original: "hs update args=7 -w args==42",
            run: "seq 42 | hs submit && echo yes | hs update args=7 -w args==42 && hs list --count -w args==7",
            needs: Needs::Nothing,
            check: |o| o.expect(o.stdout().trim() == "2", "42 became 7"),
        },
        Row {
            seed: "002",
            original: "hsx -N192 -P5 -I1 -X0 -Y12 -T60 --capture --autoscaling=dynamic --launcher=\"srun -Q -A mylab -p cpu -t60 -c192 --signal=SIGUSR1@600\"",
            run: "seq 20 | hsx -N2 -P1 -I1 -X0 -Y3 -T2 --capture --autoscaling=dynamic -H 10.77.0.1 -p $PORT \
                  --launcher=\"srun -Q -n1 -t60 --signal=SIGUSR1@600\" -t 'sleep 0.2; echo {}'; hs list --count --completed",
            needs: Needs::Slurm,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "20",
                    "20 tasks through autoscaled srun engines",
                )
            },
        },
        Row {
            seed: "002",
            original: "exec ~/bin/xcore-hs client -N48 -T60 --capture --host hs-server.xcore.university.edu -k `cat ~/.hypershell/key` 2>>log",
            run: concat!(
                "echo $KEY > key; chmod 600 key\n",
                "hs server --forever -k `cat key` -p $PORT >server.out 2>server.log & SERVER=$!\n",
                "wait_for_server\n",
                "hs submit TASKFILE\n",
                "(exec hs client -N48 -T1 --capture --host localhost -p $PORT -k `cat key` 2>>pilot.log)\n",
                "kill -INT $SERVER; wait $SERVER; hs list --count --remaining"
            ),
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "0",
                    "the pilot ran everything and left when idle",
                )
            },
        },
        Row {
            seed: "002",
            original: "TASKS=$(~/bin/xcore-hs list --count --remaining)",
            run: "hs submit TASKFILE && TASKS=$(hs list --count --remaining) && echo $((TASKS / 2))",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.stdout().trim() == "3",
                    "a count usable in shell arithmetic",
                )
            },
        },
        // ---------------------------------------------------------------- 004: cluster manual
        Row {
            seed: "004",
            original: "hyper-shell cluster [-h] ...",
            run: "hyper-shell cluster -h",
            needs: Needs::Nothing,
            check: |o| {
                o.expect(
                    o.code() == Some(0)
                        && o.stdout().contains("--no-confirm")
                        && o.stdout().contains("--autoscaling"),
                    "help with every option",
                )
            },
        },
    ]
}

/// Run one row in its own folder; `Err` describes the failure, `Ok(false)` a visible skip.
fn run_row(row: &Row) -> Result<bool, String> {
    let ssh_config = std::env::var("HS_SSH_CONFIG").unwrap_or_default();
    let slurm_conf = std::env::var("HS_SLURM_CONF").unwrap_or_default();
    let missing = match row.needs {
        Needs::Slurm if slurm_conf.is_empty() => Some("HS_SLURM_CONF (Slurm)"),
        Needs::Ssh if ssh_config.is_empty() => Some("HS_SSH_CONFIG (sshd in the namespace hosts)"),
        _ => None,
    };
    if let Some(what) = missing {
        skip_or_fail(&format!(
            "seed {} `{}`: {what} is not set by scripts/test",
            row.seed, row.original
        ));
        return Ok(false);
    }
    let _hold = (row.needs != Needs::Nothing).then(|| hold_netns_hosts(false));
    let s = Scratch::new();
    let links = hsx_bin();
    let _ = hyper_shell_bin();
    let path = format!(
        "{}:{}:{}",
        links.parent().unwrap().display(),
        hs_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let port = if row.run.contains("-p 50001") {
        50001
    } else {
        free_ports()
    };
    let script = format!("{SETUP}\n{}", row.run);
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(s.dir.path())
        .env("PATH", path)
        .env("HYPERSHELL_SITE", s.path("site"))
        .env("PORT", port.to_string())
        .env("KEY", "9f86d081884c7d659a2feaa0c55ad015")
        .env("SLURM_CONF", &slurm_conf)
        .env("HS_SSH_CONFIG", &ssh_config)
        .env_remove("HYPERSHELL_LOGGING_LEVEL")
        .env_remove("HYPERSHELL_LOGGING_STYLE");
    let out = run_with_input(cmd, "", Duration::from_secs(120));
    let outcome = Outcome {
        out,
        dir: s.dir.path(),
    };
    (row.check)(&outcome).map(|()| true).map_err(|e| {
        format!(
            "seed {} `{}`\n  ran: {}\n  {e}",
            row.seed, row.original, row.run
        )
    })
}

/// Rows that use the fixed port 50001 (`hyper-shell client --`) run one at a time.
static FIXED_PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_rows(select: impl Fn(&Row) -> bool) {
    let failures: Vec<String> = rows()
        .iter()
        .filter(|r| select(r))
        .filter_map(|row| {
            let _fixed = row
                .run
                .contains("-p 50001")
                .then(|| FIXED_PORT.lock().unwrap_or_else(|p| p.into_inner()));
            run_row(row).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} seed rows failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn seed_000_hyper_shell_1_8_guide() {
    run_rows(|r| r.seed == "000");
}

#[test]
fn seed_001_docs_index() {
    run_rows(|r| r.seed == "001");
}

#[test]
fn seed_002_training_slides() {
    run_rows(|r| r.seed == "002" && r.needs == Needs::Nothing);
}

#[test]
fn seed_002_training_slides_on_slurm() {
    run_rows(|r| r.seed == "002" && r.needs == Needs::Slurm);
}

#[test]
fn seed_004_cluster_manual() {
    run_rows(|r| r.seed == "004");
}
