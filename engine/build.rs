//! Builds the bash loadable builtin of the warm executor (src/executor/warm/slot_builtin.c)
//! into a shared object that the engine embeds (`include_bytes!`) and hands to its slot shells
//! through a memfd at run time: nothing is installed next to `hs`.

use std::path::PathBuf;

const SOURCE: &str = "src/executor/warm/slot_builtin.c";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let library = out.join("hs_warm.so");
    // The compiler cc would use for this target, driven by hand: cc builds static archives,
    // a loadable builtin must be a shared object.
    let compiler = cc::Build::new()
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .pic(true)
        .get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-Wl,-z,now", "-Wl,-z,noexecstack", "-o"])
        .arg(&library)
        .arg(SOURCE)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("compiling {SOURCE} failed ({status})"),
        Err(e) => panic!("cannot run the C compiler {:?}: {e}", compiler.path()),
    }
}
