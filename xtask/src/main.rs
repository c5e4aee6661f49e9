#![forbid(unsafe_code)]
//! `cargo run -p xtask -- build [--release]`: builds the whole site without cargo-leptos.
//!
//! cargo-leptos takes ~18 minutes to install here and its newest release does not
//! build, so this small step does the same work: the hydration bundle for
//! wasm32 (`wasm-release` profile), wasm-bindgen (the library, pinned in Cargo.lock to
//! the crate version the bundle links), wasm-opt from npm's binaryen when present,
//! CSS and `public/` into `target/site`, gzip copies of the assets, then the server.

use anyhow::{bail, Context, Result};
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

const OUTPUT_NAME: &str = "attest";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    match args.first().map(String::as_str) {
        Some("build") => build(release),
        Some("site") => build_site(),
        _ => bail!("usage: cargo run -p xtask -- build [--release] | site"),
    }
}

/// The workspace root. `cargo run` sets `CARGO_MANIFEST_DIR` for the binary too: read it
/// at run time, because a build cache shared by several clones (CI's fresh clones, a
/// developer's checkout) may hold an xtask compiled in another clone's directory.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().expect("xtask lives in the workspace").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo(args: &[&str]) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args(args).current_dir(root()).status().context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn build(release: bool) -> Result<()> {
    build_site()?;
    let mut args = vec!["build", "-p", "server"];
    if release {
        args.push("--release");
    }
    cargo(&args)
}

/// Everything the browser loads, into `target/site`.
fn build_site() -> Result<()> {
    let root = root();
    let site = root.join("target/site");
    let pkg = site.join("pkg");
    fs::create_dir_all(&pkg)?;

    cargo(&["build", "-p", "frontend", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"])?;
    let wasm = target_dir().join("wasm32-unknown-unknown/wasm-release/frontend.wasm");
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen.input_path(&wasm).out_name(OUTPUT_NAME).web(true)?.remove_name_section(true).remove_producers_section(true);
    bindgen.generate(&pkg).with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;

    let bundle = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    let wasm_opt = root.join("end2end/node_modules/.bin/wasm-opt");
    if wasm_opt.exists() {
        let status = Command::new(&wasm_opt)
            .args(["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext"])
            .args(["--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue"])
            .arg(&bundle)
            .arg("-o")
            .arg(&bundle)
            .status()
            .context("running wasm-opt")?;
        if !status.success() {
            bail!("wasm-opt failed");
        }
    } else {
        eprintln!("xtask: {} not found (run `npm ci` in end2end/); the bundle stays unoptimised", wasm_opt.display());
    }

    let mut css = String::new();
    let mut sheets: Vec<_> = fs::read_dir(root.join("style"))?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    sheets.sort();
    for sheet in sheets.iter().filter(|p| p.extension().is_some_and(|e| e == "css")) {
        css.push_str(&fs::read_to_string(sheet)?);
        css.push('\n');
    }
    fs::write(pkg.join(format!("{OUTPUT_NAME}.css")), css)?;
    copy_dir(&root.join("public"), &site)?;

    for name in [format!("{OUTPUT_NAME}_bg.wasm"), format!("{OUTPUT_NAME}.js"), format!("{OUTPUT_NAME}.css")] {
        gzip(&pkg.join(name))?;
    }
    let gz = fs::metadata(pkg.join(format!("{OUTPUT_NAME}_bg.wasm.gz")))?.len();
    println!("xtask: site built in {} (hydration bundle {} KB gzip)", site.display(), gz / 1024);
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

fn gzip(path: &Path) -> Result<()> {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&fs::read(path)?)?;
    let mut out = path.as_os_str().to_owned();
    out.push(".gz");
    fs::write(out, encoder.finish()?)?;
    Ok(())
}
