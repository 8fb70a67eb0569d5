//! MDL SD files (V2000 molfiles separated by `$$$$`), the format of the full QM9 release
//! (`gdb9.sdf`), as PyG's `QM9` reads it through RDKit.
//!
//! Per record: title line (the molecule id), program line, comment line, counts line
//! (`aaabbb…V2000`: atoms and bonds in the first two 3-column fields), `aaa` atom lines
//! (`x y z symbol mass-diff charge-code …`, coordinates in Å), `bbb` bond lines (`a b type …`,
//! 1-based atoms, type 1/2/3 single/double/triple, 4 aromatic), property lines up to `M  END`
//! (`M  CHG` charges are applied, others ignored), then data items up to `$$$$`.
//!
//! Every atom is explicit (no implicit hydrogens are added). Counts are checked against the
//! lines that are actually there before anything is allocated for them.

use std::path::Path;

use crate::DatasetError;
use crate::molecule::{Atom, BondKind, Element, Molecule};

/// The most atoms a V2000 record can declare (three digits).
pub const MAX_ATOMS: usize = 999;

/// Reads every record of SD text `text` (from `path`, named in errors) into `(title, molecule)`.
pub fn parse(text: &str, path: &Path) -> Result<Vec<(String, Molecule)>, DatasetError> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        // Skip blank lines between records (and a trailing newline).
        if lines[i].trim().is_empty() && lines[i..].iter().all(|l| l.trim().is_empty()) {
            break;
        }
        let (title, mol, next) = record(&lines, i, path)?;
        out.push((title, mol));
        i = next;
    }
    Ok(out)
}

fn field(line: &str, from: usize, to: usize) -> &str {
    let to = to.min(line.len());
    if from >= to || !line.is_char_boundary(from) || !line.is_char_boundary(to) {
        return "";
    }
    line[from..to].trim()
}

/// One record starting at line `start`; returns it and the line after its `$$$$`.
fn record(
    lines: &[&str],
    start: usize,
    path: &Path,
) -> Result<(String, Molecule, usize), DatasetError> {
    let err = |line: usize, reason: String| {
        DatasetError::format(path, format!("line {}: {reason}", line + 1))
    };
    let counts_at = start + 3;
    let counts = *lines
        .get(counts_at)
        .ok_or_else(|| err(start, "record ends before its counts line".into()))?;
    if !counts.contains("V2000") {
        return Err(err(
            counts_at,
            "not a V2000 counts line (V3000 and other versions are not supported)".into(),
        ));
    }
    let count = |from: usize, what: &str| -> Result<usize, DatasetError> {
        field(counts, from, from + 3)
            .parse::<usize>()
            .map_err(|_| err(counts_at, format!("the {what} count is not a number")))
    };
    let (num_atoms, num_bonds) = (count(0, "atom")?, count(3, "bond")?);
    let available = lines.len().saturating_sub(counts_at + 1);
    if num_atoms > MAX_ATOMS || num_atoms + num_bonds > available {
        return Err(err(
            counts_at,
            format!(
                "declares {num_atoms} atoms and {num_bonds} bonds, but only {available} lines follow"
            ),
        ));
    }
    let mut atoms = Vec::with_capacity(num_atoms);
    for k in 0..num_atoms {
        let at = counts_at + 1 + k;
        let parts: Vec<&str> = lines[at].split_whitespace().collect();
        if parts.len() < 4 {
            return Err(err(at, "an atom line needs x y z and a symbol".into()));
        }
        let mut pos = [0f32; 3];
        for (d, p) in pos.iter_mut().enumerate() {
            *p = parts[d]
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(at, format!("coordinate '{}' is not a number", parts[d])))?;
        }
        let element = Element::from_symbol(parts[3])
            .ok_or_else(|| err(at, format!("unknown element '{}'", parts[3])))?;
        let charge = match parts.get(5).map(|c| c.parse::<i8>()) {
            None | Some(Ok(0)) => 0,
            Some(Ok(c @ 1..=7)) if c != 4 => 4 - c,
            Some(Ok(4)) => 0,
            _ => return Err(err(at, "charge code must be 0..7".into())),
        };
        atoms.push(Atom {
            element,
            aromatic: false,
            charge,
            hydrogens: 0,
            position: Some(pos),
        });
    }
    let mut bonds = Vec::with_capacity(num_bonds);
    for k in 0..num_bonds {
        let at = counts_at + 1 + num_atoms + k;
        let line = lines[at];
        let num = |from: usize, what: &str| -> Result<usize, DatasetError> {
            field(line, from, from + 3)
                .parse::<usize>()
                .map_err(|_| err(at, format!("bond {what} is not a number")))
        };
        let (a, b, t) = (num(0, "atom")?, num(3, "atom")?, num(6, "type")?);
        if a == 0 || b == 0 || a > num_atoms || b > num_atoms || a == b {
            return Err(err(
                at,
                format!("bond {a}-{b} does not join two of the {num_atoms} atoms"),
            ));
        }
        let kind = match t {
            1 => BondKind::Single,
            2 => BondKind::Double,
            3 => BondKind::Triple,
            4 => BondKind::Aromatic,
            _ => return Err(err(at, format!("bond type {t} is not 1, 2, 3 or 4"))),
        };
        if kind == BondKind::Aromatic {
            atoms[a - 1].aromatic = true;
            atoms[b - 1].aromatic = true;
        }
        let (p, q) = ((a - 1).min(b - 1), (a - 1).max(b - 1));
        if bonds.iter().any(|&(x, y, _)| (x, y) == (p, q)) {
            return Err(err(at, format!("bond {a}-{b} is listed twice")));
        }
        bonds.push((p, q, kind));
    }
    // Properties up to `M  END`, then data up to `$$$$`.
    let mut at = counts_at + 1 + num_atoms + num_bonds;
    let mut ended = false;
    while at < lines.len() {
        let line = lines[at];
        at += 1;
        if line.starts_with("$$$$") {
            break;
        }
        if ended {
            continue;
        }
        if line.starts_with("M  END") {
            ended = true;
        } else if let Some(rest) = line.strip_prefix("M  CHG") {
            let v: Vec<i64> = rest
                .split_whitespace()
                .map(|t| t.parse::<i64>())
                .collect::<Result<_, _>>()
                .map_err(|_| err(at - 1, "M  CHG entries must be integers".into()))?;
            let n = v.first().copied().unwrap_or(0).max(0) as usize;
            if v.len() != 1 + 2 * n {
                return Err(err(at - 1, "M  CHG has the wrong number of entries".into()));
            }
            for pair in v[1..].chunks(2) {
                let a = pair[0];
                if a < 1 || a as usize > num_atoms || !(-15..=15).contains(&pair[1]) {
                    return Err(err(at - 1, "M  CHG names a bad atom or charge".into()));
                }
                atoms[a as usize - 1].charge = pair[1] as i8;
            }
        } else if [0, 3, 6]
            .iter()
            .all(|&c| field(line, c, c + 3).parse::<usize>().is_ok())
        {
            // A bond line past the declared count would otherwise be dropped silently.
            return Err(err(
                at - 1,
                format!("a bond line after the {num_bonds} bonds the counts line declares"),
            ));
        }
    }
    if !ended {
        return Err(err(at.saturating_sub(1), "record has no 'M  END'".into()));
    }
    Ok((
        lines[start].trim().to_string(),
        Molecule { atoms, bonds },
        at,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHANE: &str = "gdb_1
  -OEChem-03231823243D

  5  4  0     0  0  0  0  0  0999 V2000
   -0.0127    1.0858    0.0080 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0022   -0.0060    0.0020 H   0  0  0  0  0  0  0  0  0  0  0  0
    1.0117    1.4638    0.0003 H   0  0  0  0  0  0  0  0  0  0  0  0
   -0.5408    1.4475   -0.8766 H   0  0  0  0  0  0  0  0  0  0  0  0
   -0.5238    1.4379    0.9064 H   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0  0  0  0
  1  3  1  0  0  0  0
  1  4  1  0  0  0  0
  1  5  1  0  0  0  0
M  END
$$$$
";

    #[test]
    fn reads_a_record() {
        let mols = parse(&format!("{METHANE}{METHANE}"), Path::new("x.sdf")).unwrap();
        assert_eq!(mols.len(), 2);
        let (title, m) = &mols[0];
        assert_eq!(title, "gdb_1");
        assert_eq!(m.atoms.len(), 5);
        assert_eq!(m.bonds.len(), 4);
        assert_eq!(m.atoms[1].element, Element::H);
        assert_eq!(m.atoms[0].position, Some([-0.0127, 1.0858, 0.0080]));
    }

    #[test]
    fn charges_from_code_and_m_chg() {
        let t = METHANE.replace(
            "   -0.0127    1.0858    0.0080 C   0  0  0",
            "   -0.0127    1.0858    0.0080 C   0  3  0",
        );
        assert_eq!(parse(&t, Path::new("x")).unwrap()[0].1.atoms[0].charge, 1);
        let t = METHANE.replace("M  END", "M  CHG  1   2  -1\nM  END");
        assert_eq!(parse(&t, Path::new("x")).unwrap()[0].1.atoms[1].charge, -1);
    }

    #[test]
    fn malformed_records_are_errors() {
        for (from, to, what) in [
            ("  5  4  0", "  9  4  0", "only"),
            ("  5  4  0", "999999  0", "only"),
            ("  1  5  1  0", "  1  9  1  0", "does not join"),
            ("  1  5  1  0", "  1  1  1  0", "does not join"),
            ("  1  5  1  0", "  1  5  7  0", "bond type"),
            ("  1  5  1  0", "  1  2  1  0", "twice"),
            ("0.0080 C", "0.0080 Xq", "unknown element"),
            ("-0.0127", "abc", "not a number"),
            ("V2000", "V3000", "V2000"),
            ("M  END", "M  CHG  1   1   1", "no 'M  END'"),
            ("M  END", "M  CHG  1  99   1\nM  END", "bad atom"),
            (
                "M  END",
                "  2  3  1  0  0  0  0\nM  END",
                "bond line after the 4 bonds",
            ),
        ] {
            let t = METHANE.replacen(from, to, 1);
            let e = parse(&t, Path::new("bad.sdf")).unwrap_err().to_string();
            assert!(e.contains(what) && e.contains("bad.sdf"), "{to}: {e}");
        }
        assert!(parse("gdb_1\n", Path::new("x")).is_err());
        assert!(parse("", Path::new("x")).unwrap().is_empty());
    }
}
