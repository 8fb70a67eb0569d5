//! QM9 (Ramakrishnan et al. 2014) molecular property regression, from the files under
//! `<root>/qm9/`:
//!
//! - `qm9` — `qm9_small.csv`, MoleculeNet's `qm9.csv` layout (`,mol_id,smiles,A,B,C,mu,…`):
//!   SMILES parsed by [`crate::smiles`], rows deduplicated by `mol_id` (the first is kept; a
//!   duplicate with different values is an error), molecules in file order.
//! - `qm9-sdf` — `qm9_mini.sdf` (V2000, 3-D coordinates, explicit hydrogens; the format of
//!   the full `gdb9.sdf`) with targets from `qm9_mini.sdf.csv` matched by `mol_id`; edges carry
//!   the interatomic distance as a fifth feature.
//!
//! Graphs: [`ATOM_FEATURES`] node features and one-hot bond
//! types (see [`crate::molecule`]). Targets: all 19 properties per molecule, in PyG's `QM9`
//! order ([`TARGETS`]) and in the units of the file (Debye, Bohr³, Hartree, GHz, kcal/mol —
//! PyG converts energies to eV; this loader does not); pick one with
//! [`GraphDataset::select_target`](crate::GraphDataset::select_target).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::download::RemoteFile;
use crate::graph_set::{GraphDataset, GraphTarget};
use crate::molecule::{ATOM_FEATURES, BOND_FEATURES, Hydrogens, Molecule};
use crate::{DataRoot, DatasetError, sdf, smiles};

/// The dataset names this module loads.
pub const NAMES: [&str; 2] = ["qm9", "qm9-sdf"];

/// The largest QM9 file read (1 GiB; the full `gdb9.sdf` is 235 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The 19 targets in PyG's `QM9` order: (index, CSV column, meaning, unit in the CSV).
pub const TARGETS: [(usize, &str, &str, &str); 19] = [
    (0, "mu", "dipole moment", "D"),
    (1, "alpha", "isotropic polarizability", "Bohr^3"),
    (2, "homo", "HOMO energy", "Ha"),
    (3, "lumo", "LUMO energy", "Ha"),
    (4, "gap", "HOMO-LUMO gap", "Ha"),
    (5, "r2", "electronic spatial extent", "Bohr^2"),
    (6, "zpve", "zero-point vibrational energy", "Ha"),
    (7, "u0", "internal energy at 0 K", "Ha"),
    (8, "u298", "internal energy at 298.15 K", "Ha"),
    (9, "h298", "enthalpy at 298.15 K", "Ha"),
    (10, "g298", "free energy at 298.15 K", "Ha"),
    (11, "cv", "heat capacity at 298.15 K", "cal/(mol K)"),
    (12, "u0_atom", "atomization energy at 0 K", "kcal/mol"),
    (
        13,
        "u298_atom",
        "atomization internal energy at 298.15 K",
        "kcal/mol",
    ),
    (
        14,
        "h298_atom",
        "atomization enthalpy at 298.15 K",
        "kcal/mol",
    ),
    (
        15,
        "g298_atom",
        "atomization free energy at 298.15 K",
        "kcal/mol",
    ),
    (16, "A", "rotational constant A", "GHz"),
    (17, "B", "rotational constant B", "GHz"),
    (18, "C", "rotational constant C", "GHz"),
];

/// Where `qm9_small.csv` is downloaded from (a pinned commit of `Shreyas-Bhat/MolPropPred`).
const SMALL_BASE: &str = "https://raw.githubusercontent.com/Shreyas-Bhat/MolPropPred/7e92e9988f631b1618e90759f9e1fd4a6e5dc97e/data";
/// Where `qm9_mini.sdf{,.csv}` are downloaded from (a pinned commit of `deepchem/deepchem`).
const MINI_BASE: &str = "https://raw.githubusercontent.com/deepchem/deepchem/fbe3b911a94a6eb8c84c1a9e7ac67a472c49ea80/deepchem/models/tests/assets";
const SMALL_CSV: RemoteFile = RemoteFile {
    name: "qm9_small.csv",
    size: 3406601,
    sha256: "6a10c211b5d4759b1588b4a8dba4718a29e9fea48160a1f40e4a77148d29b6e9",
};
const MINI_SDF: RemoteFile = RemoteFile {
    name: "qm9_mini.sdf",
    size: 15024,
    sha256: "fd782b73ca7e56bdbceed1be1586599b4a9ce49ec8007e26589c1eeba97666ab",
};
const MINI_CSV: RemoteFile = RemoteFile {
    name: "qm9_mini.sdf.csv",
    size: 4229,
    sha256: "0cb9e5e8453fbedbb5211db0a104ab94bea6438cbdb694dbaf9041a9efdc88f1",
};

/// Loads `qm9` or `qm9-sdf` (see the module docs) with hydrogens as `hydrogens` says. Missing
/// files are downloaded (sha256-checked) from pinned GitHub commits when the root allows it.
pub fn load(
    name: &str,
    root: &DataRoot,
    hydrogens: Hydrogens,
) -> Result<GraphDataset, DatasetError> {
    match name.to_ascii_lowercase().as_str() {
        "qm9" => {
            let path = root.fetch("qm9", SMALL_BASE, &SMALL_CSV)?;
            let text = read(&path)?;
            let rows = targets_csv(&text, &path, true)?;
            let mut graphs = Vec::with_capacity(rows.len());
            for row in rows {
                let mol = smiles::parse(&row.smiles)
                    .map_err(|e| DatasetError::format(&path, format!("line {}: {e}", row.line)))?;
                graphs.push(graph(&mol, hydrogens, false, row.values, &path, row.line)?);
            }
            let ds = dataset("qm9", graphs, BOND_FEATURES);
            ds.validate()?;
            Ok(ds)
        }
        "qm9-sdf" => {
            let path = root.fetch("qm9", MINI_BASE, &MINI_SDF)?;
            let csv_path = root.fetch("qm9", MINI_BASE, &MINI_CSV)?;
            let mols = sdf::parse(&read(&path)?, &path)?;
            let csv_text = read(&csv_path)?;
            let rows = targets_csv(&csv_text, &csv_path, false)?;
            let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.mol_id.as_str(), r)).collect();
            let mut graphs = Vec::with_capacity(mols.len());
            let mut first: HashMap<&str, usize> = HashMap::with_capacity(mols.len());
            for (k, (title, mol)) in mols.iter().enumerate() {
                // A molecule listed twice could land in the training and the test split.
                if let Some(j) = first.insert(title.as_str(), k + 1) {
                    return Err(DatasetError::format(
                        &path,
                        format!(
                            "record {}: molecule '{title}' appears twice (first at record {j})",
                            k + 1
                        ),
                    ));
                }
                let row = by_id.get(title.as_str()).ok_or_else(|| {
                    DatasetError::format(
                        &csv_path,
                        format!("no targets for molecule '{title}' (record {})", k + 1),
                    )
                })?;
                graphs.push(graph(
                    mol,
                    hydrogens,
                    true,
                    row.values.clone(),
                    &path,
                    k + 1,
                )?);
            }
            let ds = dataset("qm9-sdf", graphs, BOND_FEATURES + 1);
            ds.validate()?;
            Ok(ds)
        }
        _ => Err(DatasetError::Invalid(format!(
            "unknown QM9 dataset '{name}' (qm9, qm9-sdf)"
        ))),
    }
}

fn dataset(name: &str, graphs: Vec<crate::SmallGraph>, edge_dim: usize) -> GraphDataset {
    GraphDataset {
        name: name.into(),
        graphs,
        num_classes: None,
        num_node_features: ATOM_FEATURES,
        num_edge_features: edge_dim,
        continuous_node_features: 0,
    }
}

fn graph(
    mol: &Molecule,
    hydrogens: Hydrogens,
    distance: bool,
    values: Vec<f32>,
    path: &Path,
    line: usize,
) -> Result<crate::SmallGraph, DatasetError> {
    mol.to_graph(hydrogens, distance, GraphTarget::Values(values))
        .map_err(|e| DatasetError::format(path, format!("molecule {line}: {e}")))
}

fn read(path: &PathBuf) -> Result<String, DatasetError> {
    let meta = std::fs::metadata(path).map_err(|e| DatasetError::io(path, e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(DatasetError::format(
            path,
            format!(
                "{} bytes is over the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| DatasetError::io(path, e))
}

/// One CSV row: id, SMILES (if the file has them), the 19 targets in [`TARGETS`] order.
struct Row {
    line: usize,
    mol_id: String,
    smiles: String,
    values: Vec<f32>,
}

/// Reads a QM9 target CSV (plain comma-separated, no quoting): a header naming `mol_id`,
/// `smiles` when `want_smiles`, and every column of [`TARGETS`]; rows deduplicated by
/// `mol_id`.
fn targets_csv(text: &str, path: &Path, want_smiles: bool) -> Result<Vec<Row>, DatasetError> {
    let err =
        |line: usize, reason: String| DatasetError::format(path, format!("line {line}: {reason}"));
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines.next().ok_or_else(|| err(1, "empty file".into()))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        names
            .iter()
            .position(|&n| n == name)
            .ok_or_else(|| err(1, format!("the header has no '{name}' column")))
    };
    let id_col = col("mol_id")?;
    let smiles_col = if want_smiles {
        Some(col("smiles")?)
    } else {
        None
    };
    let target_cols: Vec<usize> = TARGETS.iter().map(|t| col(t.1)).collect::<Result<_, _>>()?;
    let mut rows: Vec<Row> = vec![];
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != names.len() {
            return Err(err(
                n,
                format!("{} fields, the header has {}", cells.len(), names.len()),
            ));
        }
        let values: Vec<f32> = target_cols
            .iter()
            .map(|&c| {
                cells[c]
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| err(n, format!("'{}' is not a finite number", cells[c])))
            })
            .collect::<Result<_, _>>()?;
        let mol_id = cells[id_col].trim().to_string();
        if mol_id.is_empty() {
            return Err(err(n, "empty mol_id".into()));
        }
        let smiles = smiles_col.map_or(String::new(), |c| cells[c].trim().to_string());
        if let Some(&k) = seen.get(&mol_id) {
            let first = &rows[k];
            if first.values != values || first.smiles != smiles {
                return Err(err(
                    n,
                    format!("{mol_id} repeats line {} with different values", first.line),
                ));
            }
            continue;
        }
        seen.insert(mol_id.clone(), rows.len());
        rows.push(Row {
            line: n,
            mol_id,
            smiles,
            values,
        });
    }
    if rows.is_empty() {
        return Err(err(1, "no molecules".into()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        let mut h = String::from(",mol_id,smiles");
        for t in TARGETS.iter().skip(16).chain(TARGETS.iter().take(16)) {
            h.push(',');
            h.push_str(t.1);
        }
        h
    }

    fn row(i: usize, id: &str, smiles: &str, first: f32) -> String {
        // Values A, B, C first (as in the file), then mu..g298_atom.
        let mut r = format!("{i},{id},{smiles}");
        for k in 0..19 {
            r.push_str(&format!(",{}", first + k as f32));
        }
        r
    }

    /// One carbon at the origin, no bonds.
    fn sd_record(title: &str) -> String {
        format!(
            "{title}\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 C   0  0\nM  END\n$$$$\n"
        )
    }

    #[test]
    fn sdf_records_and_target_rows_match_one_to_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("qm9");
        std::fs::create_dir_all(&dir).unwrap();
        let csv = format!("{}\n{}\n", header(), row(0, "gdb_1", "C", 0.0));
        std::fs::write(dir.join("qm9_mini.sdf.csv"), csv).unwrap();
        let root = DataRoot::new(tmp.path());
        let load_sdf = |sdf: String| {
            std::fs::write(dir.join("qm9_mini.sdf"), sdf).unwrap();
            load("qm9-sdf", &root, Hydrogens::Explicit)
        };
        assert_eq!(load_sdf(sd_record("gdb_1")).unwrap().len(), 1);
        let e = load_sdf(sd_record("gdb_2")).unwrap_err().to_string();
        assert!(e.contains("qm9_mini.sdf.csv") && e.contains("gdb_2"), "{e}");
        let e = load_sdf(sd_record("gdb_1").repeat(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("qm9_mini.sdf:") && e.contains("appears twice"),
            "{e}"
        );
    }

    #[test]
    fn csv_targets_are_reordered_and_deduplicated() {
        let text = format!(
            "{}\n{}\n{}\n{}\n",
            header(),
            row(0, "gdb_1", "C", 0.0),
            row(1, "gdb_2", "N", 10.0),
            row(0, "gdb_1", "C", 0.0)
        );
        let rows = targets_csv(&text, Path::new("q.csv"), true).unwrap();
        assert_eq!(rows.len(), 2);
        // mu is the file's 4th value (index 3): first + 3.
        assert_eq!(rows[0].values[0], 3.0);
        // A (PyG index 16) is the file's first value.
        assert_eq!(rows[1].values[16], 10.0);
        assert_eq!(rows[1].smiles, "N");
    }

    #[test]
    fn csv_errors_name_the_line() {
        let bad = [
            format!(
                "{}\n{}\n{}\n",
                header(),
                row(0, "gdb_1", "C", 0.0),
                row(0, "gdb_1", "C", 1.0)
            ),
            format!(
                "{}\n{}\n",
                header(),
                row(0, "gdb_1", "C", 0.0).replace(",3,", ",x,")
            ),
            format!("{}\n0,gdb_1,C,1\n", header()),
            format!(
                "{}\n{}\n",
                header().replace(",mu", ",nu"),
                row(0, "a", "C", 0.0)
            ),
            header(),
            String::new(),
        ];
        for text in bad {
            let e = targets_csv(&text, Path::new("q.csv"), true).err().unwrap();
            assert!(e.to_string().starts_with("q.csv: line "), "{e}");
        }
    }
}
