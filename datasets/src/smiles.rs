//! A SMILES reader (OpenSMILES syntax) for the small organic molecules of QM9 and MoleculeNet.
//!
//! Reads atoms (organic subset `B C N O P S F Cl Br I`, aromatic `b c n o p s`, bracket atoms
//! `[13CH3+:1]` with isotope, chirality, hydrogen count, charge and class), bonds
//! (`- = # : / \`, elided bonds single or, between two aromatic atoms, aromatic), branches,
//! ring closures (`1`–`9`, `%nn`) with a bond symbol on either side, and `.` separating
//! components. Chirality, isotopes, classes and bond directions are read and discarded.
//!
//! Implicit hydrogens follow the OpenSMILES rule for unbracketed atoms: the smallest normal
//! valence (`B` 3; `C` 4; `N` 3, 5; `O` 2; `P` 3, 5; `S` 2, 4, 6; halogens 1) that is at least
//! the bond-order sum (aromatic bonds count 1), minus that sum, minus 1 more for an aromatic
//! atom's π bond (never below 0); none if no valence fits. So benzene's `c` has 1, pyridine's
//! and N-methylpyrrole's `n` and thiophene's `s` have none. Bracket atoms have exactly the
//! hydrogens they list.
//!
//! No aromaticity perception or kekulisation: atoms and bonds are aromatic exactly when written
//! so. Not a maintained-crate wrapper on purpose: the available crates were unmaintained or did
//! not give typed errors with positions; this one is small, fuzzed, and bounded.

use crate::molecule::{Atom, BondKind, Element, Molecule};

/// Longest SMILES string accepted, in bytes.
pub const MAX_SMILES_BYTES: usize = 4096;

/// Why a SMILES string could not be read: the byte position and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SMILES '{smiles}': at byte {pos}: {reason}")]
pub struct SmilesError {
    /// The input (cut to 80 bytes).
    pub smiles: String,
    /// Byte offset of the problem.
    pub pos: usize,
    /// What is wrong.
    pub reason: String,
}

/// A bond symbol as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BondSymbol {
    Kind(BondKind),
    /// `/` or `\`: a single bond with a direction (ignored).
    Directional,
}

struct Reader<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, pos: usize, reason: impl Into<String>) -> SmilesError {
        let mut end = self.text.len().min(80);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        SmilesError {
            smiles: self.text[..end].to_string(),
            pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut v: u32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.pos - start >= 6 {
                break;
            }
            v = v * 10 + u32::from(c - b'0');
            self.pos += 1;
        }
        (self.pos > start).then_some(v)
    }
}

/// One atom as parsed, before hydrogens are counted.
struct Parsed {
    atom: Atom,
    /// Bracket atoms fix their hydrogens; others get implicit ones.
    bracket: bool,
}

/// Parses `smiles` into a [`Molecule`] (heavy atoms, and any `[H]` written as an atom, with
/// each atom's hydrogen count).
pub fn parse(smiles: &str) -> Result<Molecule, SmilesError> {
    let mut r = Reader {
        s: smiles.as_bytes(),
        text: smiles,
        pos: 0,
    };
    if smiles.len() > MAX_SMILES_BYTES {
        return Err(r.err(0, format!("longer than {MAX_SMILES_BYTES} bytes")));
    }
    if smiles.trim().is_empty() {
        return Err(r.err(0, "empty"));
    }
    let mut atoms: Vec<Parsed> = vec![];
    let mut bonds: Vec<(usize, usize, BondKind)> = vec![];
    let mut prev: Option<usize> = None;
    let mut branches: Vec<Option<usize>> = vec![];
    let mut pending: Option<(usize, BondSymbol)> = None;
    let mut dot = false;
    // Ring-closure number → (atom, bond symbol, position).
    let mut rings: std::collections::BTreeMap<u32, (usize, Option<BondSymbol>, usize)> =
        Default::default();

    let connect = |bonds: &mut Vec<(usize, usize, BondKind)>,
                   atoms: &[Parsed],
                   a: usize,
                   b: usize,
                   sym: Option<BondSymbol>| {
        let kind = match sym {
            Some(BondSymbol::Kind(k)) => k,
            Some(BondSymbol::Directional) => BondKind::Single,
            None if atoms[a].atom.aromatic && atoms[b].atom.aromatic => BondKind::Aromatic,
            None => BondKind::Single,
        };
        bonds.push((a.min(b), a.max(b), kind));
    };

    while let Some(c) = r.peek() {
        let start = r.pos;
        match c {
            b'(' => {
                if prev.is_none() {
                    return Err(r.err(start, "branch before any atom"));
                }
                if pending.is_some() {
                    return Err(r.err(start, "bond symbol before '('"));
                }
                branches.push(prev);
                r.pos += 1;
            }
            b')' => {
                if pending.is_some() {
                    return Err(r.err(start, "bond symbol without an atom after it"));
                }
                prev = branches
                    .pop()
                    .ok_or_else(|| r.err(start, "')' without '('"))?;
                r.pos += 1;
            }
            b'-' | b'=' | b'#' | b':' | b'/' | b'\\' | b'$' => {
                if pending.is_some() {
                    return Err(r.err(start, "two bond symbols in a row"));
                }
                if prev.is_none() {
                    return Err(r.err(start, "bond symbol before any atom"));
                }
                let sym = match c {
                    b'-' => BondSymbol::Kind(BondKind::Single),
                    b'=' => BondSymbol::Kind(BondKind::Double),
                    b'#' => BondSymbol::Kind(BondKind::Triple),
                    b':' => BondSymbol::Kind(BondKind::Aromatic),
                    b'$' => return Err(r.err(start, "quadruple bonds are not supported")),
                    _ => BondSymbol::Directional,
                };
                pending = Some((start, sym));
                r.pos += 1;
            }
            b'.' => {
                if pending.is_some() {
                    return Err(r.err(start, "bond symbol before '.'"));
                }
                if prev.is_none() {
                    return Err(r.err(start, "'.' before any atom"));
                }
                dot = true;
                r.pos += 1;
            }
            b'0'..=b'9' | b'%' => {
                let Some(a) = prev else {
                    return Err(r.err(start, "ring-closure digit before any atom"));
                };
                let num = if c == b'%' {
                    r.pos += 1;
                    let d0 = r.peek().filter(u8::is_ascii_digit);
                    let d1 = r.s.get(r.pos + 1).copied().filter(u8::is_ascii_digit);
                    match (d0, d1) {
                        (Some(x), Some(y)) => {
                            r.pos += 2;
                            u32::from(x - b'0') * 10 + u32::from(y - b'0')
                        }
                        _ => return Err(r.err(start, "'%' needs two digits")),
                    }
                } else {
                    r.pos += 1;
                    u32::from(c - b'0')
                };
                let sym = pending.take().map(|(_, s)| s);
                match rings.remove(&num) {
                    Some((b, open_sym, open_pos)) => {
                        if b == a {
                            return Err(r.err(start, format!("ring {num} closes on its own atom")));
                        }
                        let sym = match (open_sym, sym) {
                            (Some(x), Some(y)) if x != y => {
                                return Err(r.err(
                                    start,
                                    format!(
                                        "ring {num} opened at byte {open_pos} with a different bond"
                                    ),
                                ));
                            }
                            (x, y) => x.or(y),
                        };
                        if bonds
                            .iter()
                            .any(|&(p, q, _)| (p, q) == (a.min(b), a.max(b)))
                        {
                            return Err(r.err(start, format!("ring {num} duplicates a bond")));
                        }
                        connect(&mut bonds, &atoms, b, a, sym);
                    }
                    None => {
                        rings.insert(num, (a, sym, start));
                    }
                }
            }
            _ => {
                let parsed = if c == b'[' {
                    bracket_atom(&mut r)?
                } else {
                    organic_atom(&mut r)?
                };
                let id = atoms.len();
                atoms.push(parsed);
                if let Some(p) = prev {
                    if dot {
                        dot = false;
                    } else {
                        let sym = pending.take().map(|(_, s)| s);
                        connect(&mut bonds, &atoms, p, id, sym);
                    }
                }
                prev = Some(id);
            }
        }
    }
    if let Some((pos, _)) = pending {
        return Err(r.err(pos, "bond symbol at the end"));
    }
    if dot {
        return Err(r.err(smiles.len(), "'.' at the end"));
    }
    if !branches.is_empty() {
        return Err(r.err(smiles.len(), "unclosed '('"));
    }
    if let Some((num, (_, _, pos))) = rings.into_iter().next() {
        return Err(r.err(pos, format!("ring {num} is never closed")));
    }

    // Hydrogens of unbracketed atoms from the normal valences.
    let mut order_sum = vec![0u32; atoms.len()];
    for &(a, b, k) in &bonds {
        let o = match k {
            BondKind::Single | BondKind::Aromatic => 1,
            BondKind::Double => 2,
            BondKind::Triple => 3,
        };
        order_sum[a] += o;
        order_sum[b] += o;
    }
    let atoms = atoms
        .into_iter()
        .zip(order_sum)
        .map(|(p, sum)| {
            let mut atom = p.atom;
            if !p.bracket {
                // The smallest normal valence that holds the bonds; an aromatic atom also
                // spends one on its π bond (never below zero hydrogens).
                let pi = u32::from(atom.aromatic);
                atom.hydrogens = atom
                    .element
                    .normal_valences()
                    .iter()
                    .find(|&&v| v >= sum)
                    .map_or(0, |&v| (v - sum).saturating_sub(pi) as u8);
            }
            atom
        })
        .collect();
    Ok(Molecule { atoms, bonds })
}

/// `B C N O P S F Cl Br I` or aromatic `b c n o p s`.
fn organic_atom(r: &mut Reader) -> Result<Parsed, SmilesError> {
    let start = r.pos;
    let c = r.s[r.pos];
    let two = r.s.get(r.pos + 1).copied();
    let (element, aromatic, len) = match (c, two) {
        (b'C', Some(b'l')) => (Element::CL, false, 2),
        (b'B', Some(b'r')) => (Element::BR, false, 2),
        (b'B', _) => (Element::B, false, 1),
        (b'C', _) => (Element::C, false, 1),
        (b'N', _) => (Element::N, false, 1),
        (b'O', _) => (Element::O, false, 1),
        (b'P', _) => (Element::P, false, 1),
        (b'S', _) => (Element::S, false, 1),
        (b'F', _) => (Element::F, false, 1),
        (b'I', _) => (Element::I, false, 1),
        (b'b', _) => (Element::B, true, 1),
        (b'c', _) => (Element::C, true, 1),
        (b'n', _) => (Element::N, true, 1),
        (b'o', _) => (Element::O, true, 1),
        (b'p', _) => (Element::P, true, 1),
        (b's', _) => (Element::S, true, 1),
        _ => {
            let ch = r.text[start..].chars().next().unwrap_or('?');
            return Err(r.err(start, format!("unexpected '{ch}'")));
        }
    };
    r.pos += len;
    Ok(Parsed {
        atom: Atom {
            element,
            aromatic,
            charge: 0,
            hydrogens: 0,
            position: None,
        },
        bracket: false,
    })
}

/// `[` isotope? symbol chirality? hcount? charge? class? `]`.
fn bracket_atom(r: &mut Reader) -> Result<Parsed, SmilesError> {
    let start = r.pos;
    r.pos += 1; // '['
    let _isotope = r.number();
    let sym_start = r.pos;
    let mut end = r.pos;
    if r.s.get(end).is_some_and(u8::is_ascii_alphabetic) {
        end += 1;
        if r.s.get(end).is_some_and(u8::is_ascii_lowercase) {
            end += 1;
        }
    }
    let (element, aromatic, used) = Element::bracket_symbol(&r.text[sym_start..end])
        .ok_or_else(|| r.err(sym_start, "unknown element in brackets"))?;
    r.pos = sym_start + used;
    // Chirality: @, @@, or @TH1 / @AL2 / @SP3 / @TB12 / @OH25.
    if r.peek() == Some(b'@') {
        r.pos += 1;
        if r.peek() == Some(b'@') {
            r.pos += 1;
        } else if r
            .s
            .get(r.pos..r.pos + 2)
            .is_some_and(|t| matches!(t, b"TH" | b"AL" | b"SP" | b"TB" | b"OH"))
        {
            r.pos += 2;
            if r.number().is_none() {
                return Err(r.err(r.pos, "chirality class needs a number"));
            }
        }
    }
    let mut hydrogens = 0u8;
    if r.peek() == Some(b'H') {
        r.pos += 1;
        hydrogens = match r.number() {
            Some(n) if n <= 9 => n as u8,
            Some(_) => return Err(r.err(r.pos, "more than 9 hydrogens")),
            None => 1,
        };
    }
    let mut charge: i32 = 0;
    if let Some(sign @ (b'+' | b'-')) = r.peek() {
        let s = if sign == b'+' { 1 } else { -1 };
        r.pos += 1;
        charge = s;
        if let Some(n) = r.number() {
            if n > 15 {
                return Err(r.err(r.pos, "charge beyond ±15"));
            }
            charge = s * n as i32;
        } else {
            while r.peek() == Some(sign) && charge.abs() < 15 {
                charge += s;
                r.pos += 1;
            }
        }
    }
    if r.peek() == Some(b':') {
        r.pos += 1;
        if r.number().is_none() {
            return Err(r.err(r.pos, "atom class needs a number"));
        }
    }
    if r.peek() != Some(b']') {
        return Err(r.err(
            r.pos,
            format!("bracket atom opened at byte {start} is not closed"),
        ));
    }
    r.pos += 1;
    Ok(Parsed {
        atom: Atom {
            element,
            aromatic,
            charge: charge as i8,
            hydrogens,
            position: None,
        },
        bracket: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (symbol, hydrogens, aromatic, charge) per atom.
    type AtomSummary = (String, u8, bool, i8);

    fn summary(s: &str) -> (Vec<AtomSummary>, Vec<(usize, usize, BondKind)>) {
        let m = parse(s).unwrap();
        (
            m.atoms
                .iter()
                .map(|a| {
                    (
                        a.element.symbol().to_string(),
                        a.hydrogens,
                        a.aromatic,
                        a.charge,
                    )
                })
                .collect(),
            m.bonds,
        )
    }

    fn hs(s: &str) -> Vec<u8> {
        parse(s)
            .unwrap()
            .atoms
            .iter()
            .map(|a| a.hydrogens)
            .collect()
    }

    #[test]
    fn chains_branches_and_implicit_hydrogens() {
        assert_eq!(hs("C"), [4]);
        assert_eq!(hs("CCO"), [3, 2, 1]);
        assert_eq!(hs("CC(C)(C)C"), [3, 0, 3, 3, 3]);
        assert_eq!(hs("C=O"), [2, 0]);
        assert_eq!(hs("C#N"), [1, 0]);
        assert_eq!(hs("CC(=O)O"), [3, 0, 0, 1]);
        let (_, bonds) = summary("CC(=O)O");
        assert_eq!(
            bonds,
            [
                (0, 1, BondKind::Single),
                (1, 2, BondKind::Double),
                (1, 3, BondKind::Single)
            ]
        );
        assert_eq!(hs("FC(F)F"), [0, 1, 0, 0]);
        assert_eq!(hs("ClCBr"), [0, 2, 0]);
    }

    #[test]
    fn rings_and_ring_bond_symbols() {
        let m = parse("C1CC1").unwrap();
        assert_eq!(m.bonds.len(), 3);
        assert_eq!(hs("C1CC1"), [2, 2, 2]);
        // A bond symbol on the opening or the closing digit.
        let a = parse("C=1CCCCC1").unwrap();
        let b = parse("C1CCCCC=1").unwrap();
        assert!(a.bonds.contains(&(0, 5, BondKind::Double)));
        assert!(b.bonds.contains(&(0, 5, BondKind::Double)));
        assert_eq!(hs("C=1CCCCC1"), [1, 2, 2, 2, 2, 1]);
        // %nn closures and reuse of a closed ring number.
        assert_eq!(parse("C%12CC%12C1CC1").unwrap().bonds.len(), 7);
        // Bicyclic QM9 molecule.
        assert_eq!(hs("OC1CC=CC1O"), [1, 1, 2, 1, 1, 1, 1]);
    }

    #[test]
    fn aromatic_atoms_and_bonds() {
        let (atoms, bonds) = summary("c1ccccc1");
        assert!(atoms.iter().all(|a| a.1 == 1 && a.2));
        assert!(bonds.iter().all(|b| b.2 == BondKind::Aromatic));
        // Pyridine N has no H; pyrrole's is written; furan O has none.
        assert_eq!(hs("c1ccncc1"), [1, 1, 1, 0, 1, 1]);
        assert_eq!(hs("c1cc[nH]c1"), [1, 1, 1, 1, 1]);
        assert_eq!(hs("c1ccoc1"), [1, 1, 1, 0, 1]);
        // Three-bonded aromatic nitrogen (N-methylpyrrole, imidazole) and thiophene's sulfur.
        assert_eq!(hs("Cn1cccc1"), [3, 0, 1, 1, 1, 1]);
        assert_eq!(hs("Cn1ccnc1"), [3, 0, 1, 1, 0, 1]);
        assert_eq!(hs("s1cccc1"), [0, 1, 1, 1, 1]);
        // Substituted and fused rings; an aromatic carbon with an exocyclic double bond.
        assert_eq!(hs("Cc1ccccc1"), [3, 0, 1, 1, 1, 1, 1]);
        assert_eq!(hs("c1ccc2ccccc2c1")[3], 0);
        assert_eq!(hs("c1c(=O)c(n[nH]c1N)N"), [1, 0, 0, 0, 0, 1, 0, 2, 2]);
        // A single bond between two aromatic atoms written explicitly (biphenyl).
        let m = parse("c1ccccc1-c1ccccc1").unwrap();
        assert!(m.bonds.contains(&(5, 6, BondKind::Single)));
    }

    #[test]
    fn bracket_atoms_charges_and_components() {
        let (atoms, _) = summary("CC1(C[NH3+])NC1C([O-])=O");
        assert_eq!(atoms[3], ("N".into(), 3, false, 1));
        assert_eq!(atoms[7], ("O".into(), 0, false, -1));
        let (atoms, _) = summary("[13CH4]");
        assert_eq!(atoms, [("C".into(), 4, false, 0)]);
        let (atoms, _) = summary("[Fe++]");
        assert_eq!(atoms[0].3, 2);
        let (atoms, _) = summary("[O-2]");
        assert_eq!(atoms[0].3, -2);
        let (atoms, _) = summary("[C@@H](F)(Cl)Br");
        assert_eq!(atoms[0].1, 1);
        let (atoms, _) = summary("[NH4+:3]");
        assert_eq!(atoms[0], ("N".into(), 4, false, 1));
        let (atoms, bonds) = summary("[Na+].[Cl-]");
        assert_eq!(atoms.len(), 2);
        assert!(bonds.is_empty());
        let (atoms, _) = summary("[se]1cccc1");
        assert!(atoms[0].2);
        let (atoms, bonds) = summary("[H]C([H])([H])[H]");
        assert_eq!(atoms.len(), 5);
        assert_eq!(atoms[1].1, 0);
        assert_eq!(bonds.len(), 4);
        // Directional bonds read as single.
        assert_eq!(summary("F/C=C/F").1[0].2, BondKind::Single);
    }

    #[test]
    fn malformed_strings_are_errors_with_positions() {
        for (s, pos) in [
            ("", 0),
            ("C1CC", 1),
            ("C(C", 3),
            ("CC)", 2),
            ("C==C", 2),
            ("C=", 1),
            ("(C)", 0),
            ("=C", 0),
            ("CX", 1),
            ("[Xx]", 1),
            ("[CH4", 4),
            ("C%1C", 1),
            ("C11", 2),
            ("C=1CCC#1", 7),
            ("C.", 2),
            ("C$C", 1),
            ("[C+99]", 5),
            ("1CC", 0),
        ] {
            let e = parse(s).unwrap_err();
            assert_eq!(e.pos, pos, "{s}: {e}");
        }
        assert!(parse(&"C".repeat(MAX_SMILES_BYTES + 1)).is_err());
        // Multi-byte input never panics on slicing.
        assert!(parse("Cé").is_err());
        assert!(parse("[é]").is_err());
    }
}
