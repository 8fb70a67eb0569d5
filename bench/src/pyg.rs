//! Running the PyTorch Geometric reference script, and setting up its virtual environment.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference script, beside this crate.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pyg_bench.py")
}

/// `python pyg_bench.py ARGS`.
pub fn command(python: &Path, args: &[String]) -> Command {
    let mut c = Command::new(python);
    c.arg(script()).args(args);
    c
}

/// Creates (once) a virtual environment with the PyG version the fixtures were made with (and
/// safetensors and numpy, which read the data gnn-bench hands over) and returns its
/// interpreter. Location: `$GNN_PYG_VENV`, else `~/.cache/gnn/pyg-venv`.
pub fn setup_venv() -> Result<PathBuf, String> {
    let dir = std::env::var_os("GNN_PYG_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gnn/pyg-venv")))
        .ok_or("cannot choose a venv directory: set GNN_PYG_VENV")?;
    let python = dir.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import torch, torch_geometric"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Ok(python);
    }
    eprintln!(
        "setting up PyG in {} (torch is large: this takes a while)",
        dir.display()
    );
    let run = |c: &mut Command| -> Result<(), String> {
        let status = c.status().map_err(|e| format!("{c:?}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{c:?} failed"))
        }
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(&dir))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "-q",
        "torch==2.15.0",
        "torch_geometric==2.8.1",
        // The script reads the data gnn-bench hands it as safetensors.
        "safetensors",
        "numpy",
    ]))?;
    Ok(python)
}
