//! Parser-level parity with HyperShell 2.8.2: every command line below is valid there (its
//! documented options, short flags and aliases, in the orders its users write them) and must
//! parse here; the refused ones are refused by both.

use clap::Parser;

use super::{Cli, Command};

fn parse(line: &str) -> Result<Cli, clap::Error> {
    let words = shell_words::split(line).expect("test line is valid shell");
    Cli::try_parse_from(words)
}

#[test]
fn every_documented_option_parses() {
    let lines = [
        // cluster / hsx (§2.2)
        "hs cluster tasks.in -N4 -t 'echo {}' -b 10 -w 5 -c 2 -m 8G -W 60 --initdb -d 1 -T 30 \
         -C 4 -M 16G -S 5 -R 10 -Q 30 -H localhost -p 50001 -r 2 --eager -f failed.txt \
         --capture --monitor --no-confirm",
        "hs cluster tasks.in --no-db --no-confirm -o out.txt -e err.txt",
        "hs cluster --forever -A dynamic -F 2 -P 5 -I 1 -X 0 -Y 12 -T 60 --launcher 'srun -n1'",
        "hs cluster --restart --no-tls",
        "hs cluster tasks.in --tls-cert a.crt --tls-key a.key --tls-ca ca.crt",
        "hs cluster tasks.in --ssh 'a[00-03]' --env --ssh-args '-i key' --remote-exe /opt/hs",
        "hs cluster tasks.in --ssh-group xyz --capture",
        "hs cluster tasks.in --mpi -N 8",
        "hs cluster tasks.in --num-tasks 8 --max-retries=2 --delay-start=-60 --launcher=srun",
        "hs cluster tasks.in --autoscaling --launcher=srun",
        // server (§2.3)
        "hs server tasks.in -H 0.0.0.0 -p 50001 -k 0123456789abcdef -b 10 -w 5 -c 2 -m 1G -W 60 \
         -r 1 --eager -Q 5 --initdb --print --no-confirm",
        "hs server --forever -k 0123456789abcdef --bind 0.0.0.0 --max-retries 2 -f failed.txt",
        "hs server --restart --task-cores 4 --task-memory 2G --task-timeout 10 --no-tls",
        // client (§2.4)
        "hs client -N 4 -t 'echo {}' -b 1 -w 5 -H host -p 50001 -k 0123456789abcdef -d -10 \
         -T 60 -W 30 -S 5 -R 2 -C 4 -M 8G --capture --monitor --no-confirm --no-tls",
        "hs client --num-threads 0 -o out.txt -e err.txt --tls-ca ca.crt",
        "hs client -x600",
        // submit (§2.5)
        "hs submit tasks.in --tag prod instr:B12 site:us-west-1 batch:12",
        "hs submit -f tasks.in -b 10 -w 5 -c 2 -m 8G -W 60 -g 1 --template 'echo {}' --initdb",
        "hs submit -q -H localhost -p 50001 -k 0123456789abcdef -t a:1 -- echo hi",
        "hs submit echo 'hello world'",
        "hs submit -t group:1 demo",
        // task commands (§2.6)
        "hs info 01234567-89ab-cdef-0123-456789abcdef -x exit_status",
        "hs info 01234567-89ab-cdef-0123-456789abcdef --stdout -i",
        "hs info 01234567-89ab-cdef-0123-456789abcdef --perf",
        "hs info 01234567-89ab-cdef-0123-456789abcdef -f yaml",
        "hs info 01234567-89ab-cdef-0123-456789abcdef --json",
        "hs info 01234567-89ab-cdef-0123-456789abcdef --yaml",
        "hs wait 01234567-89ab-cdef-0123-456789abcdef -n 1 --info -f json",
        "hs wait 01234567-89ab-cdef-0123-456789abcdef -s",
        "hs wait 01234567-89ab-cdef-0123-456789abcdef -r",
        "hs run -n 1 -t a:1 -- echo hi",
        "hs list args exit_status -w 'exit_status != 0' -t site:b -g 0 --failed --retries \
         --order-by submit_time --desc -l 10 -f plain -d , -i",
        "hs list --count --remaining --with-tag site:b",
        "hs list -l1",
        "hs list --fields",
        "hs list --tag-keys",
        "hs list --tag-values site",
        "hs list --json",
        "hs list --csv -S",
        "hs list -C",
        "hs list --completed",
        "hs list --finished",
        "hs update phase:1 --completed",
        "hs update args=7 -w args==42",
        "hs update --cancel --remaining",
        "hs update --delete --order-by submit_time --desc --limit 1",
        "hs update --revert --failed -f",
        "hs update a:1 --remove-tag b c --no-confirm",
        "hs update 01234567-89ab-cdef-0123-456789abcdef exit_status 0",
        "hs initdb",
        "hs initdb --truncate --yes",
        "hs initdb -v",
        "hs initdb -b backup.db",
        "hs initdb -r -y",
        "hs task submit -t a:1 -- echo hi",
        "hs task search args -l 1",
        "hs task info 01234567-89ab-cdef-0123-456789abcdef",
        "hs task wait 01234567-89ab-cdef-0123-456789abcdef -s",
        "hs task run -- echo hi",
        "hs task update --cancel -f",
        "hs task --list-columns",
        // config (§2.8)
        "hs config get logging.level -x",
        "hs config set logging.level debug --user",
        "hs config which logging.level --site",
        "hs config edit --user",
    ];
    let failures: Vec<String> = lines
        .iter()
        .filter_map(|line| parse(line).err().map(|e| format!("{line}\n{e}")))
        .collect();
    assert!(failures.is_empty(), "refused:\n{}", failures.join("\n"));
}

#[test]
fn top_level_version_and_citation() {
    for line in ["hs -v", "hs --version", "hs -V"] {
        let e = parse(line).expect_err("prints the version");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion, "{line}");
    }
    assert!(parse("hs --citation").expect("parses").citation);
}

#[test]
fn unknown_options_are_errors_not_commands() {
    for line in [
        "hs submit --bogus echo hi",
        "hs submit echo -n hi",
        "hs cluster tasks.in --no-confrim",
        "hs run echo --bogus",
    ] {
        let e = parse(line).expect_err(line);
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument, "{line}");
    }
    let e = parse("hs cluster --no-confrim").expect_err("typo");
    assert!(
        e.to_string().contains("--no-confirm"),
        "names the closest: {e}"
    );
}

#[test]
fn options_after_positionals_are_options() {
    let Ok(Cli {
        command: Some(Command::Submit(a)),
        ..
    }) = parse("hs submit tasks.in --tag prod site:b --template 'echo {}'")
    else {
        panic!("hs submit parses");
    };
    assert_eq!(a.args, ["tasks.in"]);
    assert_eq!(a.settings.tags, ["prod", "site:b"]);
    assert_eq!(a.template, "echo {}");
    let Ok(Cli {
        command: Some(Command::Submit(a)),
        ..
    }) = parse("hs submit -t x -- ls -l")
    else {
        panic!("hs submit parses");
    };
    assert_eq!(a.args, ["ls", "-l"]);
}

#[test]
fn conflicting_modes_are_refused_as_in_hypershell() {
    for line in [
        "hs cluster --forever --restart",
        "hs cluster --forever --no-db",
        "hs cluster --no-tls --tls-cert a.crt",
        "hs server --print -f failed.txt",
        "hs submit -p 50001 tasks.in",
    ] {
        assert!(parse(line).is_err(), "{line}");
    }
}
