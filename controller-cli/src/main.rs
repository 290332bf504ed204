//! `hs`: see `hs --help`.

fn main() -> std::process::ExitCode {
    hs_cli::main_with(std::env::args_os().collect())
}
