//! `hs` (also started as `hsx` = `hs cluster`, and as `hyper-shell`): see `hs --help`.

fn main() -> std::process::ExitCode {
    hs_cli::main_from_env()
}
