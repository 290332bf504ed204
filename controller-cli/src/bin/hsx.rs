//! `hsx ARGS` is `hs cluster ARGS`.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args.insert(1, "cluster".into());
    args[0] = "hs".into();
    hs_cli::main_with(args)
}
