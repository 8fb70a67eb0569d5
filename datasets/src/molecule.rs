//! Molecules (atoms, bonds, hydrogen counts, optional 3-D positions) and their featurisation
//! into graphs with PyG's QM9 atom and bond features.

use crate::Matrix;
use crate::graph_set::{GraphTarget, SmallGraph};

/// A chemical element, by atomic number (1..=54 and iodine's neighbours are known by symbol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element(pub u8);

/// Element symbols by atomic number − 1 (H through Xe).
const SYMBOLS: [&str; 54] = [
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
    "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
    "Sn", "Sb", "Te", "I", "Xe",
];

impl Element {
    /// Hydrogen.
    pub const H: Element = Element(1);
    /// Boron.
    pub const B: Element = Element(5);
    /// Carbon.
    pub const C: Element = Element(6);
    /// Nitrogen.
    pub const N: Element = Element(7);
    /// Oxygen.
    pub const O: Element = Element(8);
    /// Fluorine.
    pub const F: Element = Element(9);
    /// Phosphorus.
    pub const P: Element = Element(15);
    /// Sulfur.
    pub const S: Element = Element(16);
    /// Chlorine.
    pub const CL: Element = Element(17);
    /// Bromine.
    pub const BR: Element = Element(35);
    /// Iodine.
    pub const I: Element = Element(53);

    /// The element with symbol `s` (exact case, e.g. `Cl`).
    pub fn from_symbol(s: &str) -> Option<Element> {
        SYMBOLS
            .iter()
            .position(|&x| x == s)
            .map(|i| Element(i as u8 + 1))
    }

    /// The symbol (`?` for an unknown number).
    pub fn symbol(self) -> &'static str {
        SYMBOLS
            .get(usize::from(self.0).wrapping_sub(1))
            .copied()
            .unwrap_or("?")
    }

    /// Inside SMILES brackets: an element symbol, or an aromatic one (`b c n o p s se as`).
    /// Returns the element, whether it is aromatic, and the bytes used (the two-letter symbol
    /// is preferred).
    pub fn bracket_symbol(s: &str) -> Option<(Element, bool, usize)> {
        for (sym, el) in [
            ("se", 34u8),
            ("as", 33),
            ("b", 5),
            ("c", 6),
            ("n", 7),
            ("o", 8),
        ]
        .into_iter()
        .chain([("p", 15u8), ("s", 16)])
        {
            if s == sym || (sym.len() == 1 && s.len() == 2 && s.starts_with(sym)) {
                return Some((Element(el), true, sym.len()));
            }
        }
        if let Some(e) = Element::from_symbol(s) {
            return Some((e, false, s.len()));
        }
        let first = s.get(..1)?;
        Element::from_symbol(first).map(|e| (e, false, 1))
    }

    /// The normal valences of the SMILES organic subset, smallest first (empty for others).
    pub fn normal_valences(self) -> &'static [u32] {
        match self.0 {
            5 => &[3],
            6 => &[4],
            7 | 15 => &[3, 5],
            8 => &[2],
            16 => &[2, 4, 6],
            9 | 17 | 35 | 53 => &[1],
            _ => &[],
        }
    }
}

/// A bond's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BondKind {
    /// Single (also a directional `/` `\` bond).
    Single,
    /// Double.
    Double,
    /// Triple.
    Triple,
    /// Aromatic.
    Aromatic,
}

/// An atom.
#[derive(Debug, Clone, PartialEq)]
pub struct Atom {
    /// The element.
    pub element: Element,
    /// Written or flagged aromatic.
    pub aromatic: bool,
    /// Formal charge.
    pub charge: i8,
    /// Hydrogens attached but not listed as atoms (implicit, or a bracket `H` count).
    pub hydrogens: u8,
    /// Position in Å, where the source has coordinates (SDF).
    pub position: Option<[f32; 3]>,
}

/// A molecule: atoms and bonds `(a, b, kind)` with `a < b`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Molecule {
    /// The atoms.
    pub atoms: Vec<Atom>,
    /// The bonds, each once.
    pub bonds: Vec<(usize, usize, BondKind)>,
}

/// How hydrogens become graph nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hydrogens {
    /// Heavy atoms only; every hydrogen (implicit, or an atom bonded to one heavy atom) is
    /// counted in its heavy atom's "number of H" feature (MoleculeNet's SMILES graphs).
    #[default]
    Implicit,
    /// Every hydrogen is a node (PyG's `QM9`); implicit ones are added with single bonds.
    Explicit,
}

/// Atom features per node: one-hot `H C N O F` (5), atomic number, aromatic, one-hot
/// hybridisation `sp sp2 sp3` (3), number of attached hydrogens — PyG's QM9 layout.
pub const ATOM_FEATURES: usize = 11;
/// Bond features per edge: one-hot `single double triple aromatic`.
pub const BOND_FEATURES: usize = 4;

/// The hybridisation from the bonds alone (no RDKit perception): a triple bond or two double
/// bonds → sp; a double or aromatic bond, or an aromatic atom → sp2; otherwise sp3. Hydrogen
/// has none. Returns the index into `sp sp2 sp3`.
fn hybridisation(m: &Molecule, i: usize) -> Option<usize> {
    let a = &m.atoms[i];
    if a.element == Element::H {
        return None;
    }
    let (mut double, mut triple, mut aromatic) = (0, 0, a.aromatic);
    for &(p, q, k) in &m.bonds {
        if p == i || q == i {
            match k {
                BondKind::Double => double += 1,
                BondKind::Triple => triple += 1,
                BondKind::Aromatic => aromatic = true,
                BondKind::Single => {}
            }
        }
    }
    Some(if triple > 0 || double > 1 {
        0
    } else if double > 0 || aromatic {
        1
    } else {
        2
    })
}

impl Molecule {
    /// The molecule as a graph: [`ATOM_FEATURES`] node features, [`BOND_FEATURES`] edge
    /// features (plus the interatomic distance in Å when `distance` is set), every bond as two
    /// directed edges sorted by `(src, dst)`, target `y`.
    ///
    /// Errors if `distance` is asked for and an atom has no position, or if the graph would
    /// have no nodes.
    pub fn to_graph(
        &self,
        hydrogens: Hydrogens,
        distance: bool,
        y: GraphTarget,
    ) -> Result<SmallGraph, String> {
        let n = self.atoms.len();
        // The parsers only make bonds between two of the atoms; the fields are public.
        if let Some(&(p, q, _)) = self
            .bonds
            .iter()
            .find(|&&(p, q, _)| p >= n || q >= n || p == q)
        {
            return Err(format!("bond {p}-{q} does not join two of the {n} atoms"));
        }
        let heavy_neighbours = |i: usize| {
            self.bonds
                .iter()
                .filter_map(|&(p, q, _)| {
                    if p == i {
                        Some(q)
                    } else if q == i {
                        Some(p)
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>()
        };
        // Node of each atom (None: folded into its neighbour), and hydrogens per node.
        let mut node_of: Vec<Option<usize>> = vec![None; n];
        let mut num_h: Vec<u32> = vec![];
        let mut kept: Vec<usize> = vec![];
        let mut folded_into: Vec<Option<usize>> = vec![None; n];
        for i in 0..n {
            let a = &self.atoms[i];
            if hydrogens == Hydrogens::Implicit && a.element == Element::H && a.charge == 0 {
                let nb = heavy_neighbours(i);
                if let [j] = nb[..]
                    && self.atoms[j].element != Element::H
                {
                    folded_into[i] = Some(j);
                    continue;
                }
            }
            node_of[i] = Some(kept.len());
            kept.push(i);
            num_h.push(u32::from(a.hydrogens));
        }
        for j in folded_into.iter().flatten() {
            if let Some(nj) = node_of[*j] {
                num_h[nj] += 1;
            }
        }
        let mut edges: Vec<(usize, usize, BondKind, f32)> = vec![];
        let dist = |a: usize, b: usize| -> Result<f32, String> {
            match (self.atoms[a].position, self.atoms[b].position) {
                (Some(p), Some(q)) => Ok(((p[0] - q[0]).powi(2)
                    + (p[1] - q[1]).powi(2)
                    + (p[2] - q[2]).powi(2))
                .sqrt()),
                _ => Err("a distance feature needs every atom's position".into()),
            }
        };
        for &(p, q, k) in &self.bonds {
            if let (Some(a), Some(b)) = (node_of[p], node_of[q]) {
                let d = if distance { dist(p, q)? } else { 0.0 };
                edges.push((a, b, k, d));
                edges.push((b, a, k, d));
            }
        }
        let mut x: Vec<f32> = Vec::with_capacity(kept.len() * ATOM_FEATURES);
        let mut add_h = 0usize;
        for (node, &i) in kept.iter().enumerate() {
            let a = &self.atoms[i];
            let mut f = [0f32; ATOM_FEATURES];
            if let Some(k) = [1u8, 6, 7, 8, 9].iter().position(|&z| z == a.element.0) {
                f[k] = 1.0;
            }
            f[5] = f32::from(a.element.0);
            f[6] = f32::from(u8::from(a.aromatic));
            if let Some(h) = hybridisation(self, i) {
                f[7 + h] = 1.0;
            }
            f[10] = num_h[node] as f32;
            if hydrogens == Hydrogens::Explicit {
                add_h += usize::from(a.hydrogens);
            }
            x.extend_from_slice(&f);
        }
        // Explicit mode: implicit hydrogens become nodes; their heavy atom counts them.
        if hydrogens == Hydrogens::Explicit {
            if distance && add_h > 0 {
                return Err("a distance feature needs every atom's position".into());
            }
            let mut next = kept.len();
            for (node, &i) in kept.iter().enumerate() {
                for _ in 0..self.atoms[i].hydrogens {
                    let mut f = [0f32; ATOM_FEATURES];
                    f[0] = 1.0;
                    f[5] = 1.0;
                    x.extend_from_slice(&f);
                    edges.push((node, next, BondKind::Single, 0.0));
                    edges.push((next, node, BondKind::Single, 0.0));
                    next += 1;
                }
            }
            // The count is the number of hydrogen neighbours.
            let mut h_nb = vec![0f32; next];
            for &(s, d, _, _) in &edges {
                if x[d * ATOM_FEATURES] == 1.0 {
                    h_nb[s] += 1.0;
                }
            }
            for (v, h) in h_nb.iter().enumerate() {
                x[v * ATOM_FEATURES + 10] = *h;
            }
        }
        let num_nodes = x.len() / ATOM_FEATURES;
        if num_nodes == 0 {
            return Err("the molecule has no atoms".into());
        }
        edges.sort_by_key(|&(s, d, _, _)| (s, d));
        let width = BOND_FEATURES + usize::from(distance);
        let mut attr = Vec::with_capacity(edges.len() * width);
        for &(_, _, k, d) in &edges {
            let mut f = [0f32; BOND_FEATURES + 1];
            f[k as usize] = 1.0;
            f[BOND_FEATURES] = d;
            attr.extend_from_slice(&f[..width]);
        }
        Ok(SmallGraph {
            num_nodes,
            src: edges.iter().map(|e| e.0 as u32).collect(),
            dst: edges.iter().map(|e| e.1 as u32).collect(),
            x: Matrix::new(num_nodes, ATOM_FEATURES, x).map_err(|e| e.to_string())?,
            edge_attr: Some(Matrix::new(edges.len(), width, attr).map_err(|e| e.to_string())?),
            y,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smiles::parse;

    fn row(g: &SmallGraph, i: usize) -> Vec<f32> {
        g.x.row(i).to_vec()
    }

    #[test]
    fn a_bond_to_a_missing_atom_is_an_error_not_a_panic() {
        let mut m = parse("CO").unwrap();
        m.bonds.push((1, 5, BondKind::Single));
        let e = m
            .to_graph(Hydrogens::Implicit, false, GraphTarget::Values(vec![]))
            .unwrap_err();
        assert!(e.contains("1-5"), "{e}");
    }

    #[test]
    fn acetonitrile_features() {
        let m = parse("CC#N").unwrap();
        let g = m
            .to_graph(Hydrogens::Implicit, false, GraphTarget::Values(vec![1.0]))
            .unwrap();
        assert_eq!(g.num_nodes, 3);
        assert_eq!(row(&g, 0), [0., 1., 0., 0., 0., 6., 0., 0., 0., 1., 3.]);
        assert_eq!(row(&g, 1), [0., 1., 0., 0., 0., 6., 0., 1., 0., 0., 0.]);
        assert_eq!(row(&g, 2), [0., 0., 1., 0., 0., 7., 0., 1., 0., 0., 0.]);
        assert_eq!(g.src, [0, 1, 1, 2]);
        assert_eq!(g.dst, [1, 0, 2, 1]);
        let attr = g.edge_attr.unwrap();
        assert_eq!(attr.cols(), BOND_FEATURES);
        assert_eq!(attr.row(2), &[0., 0., 1., 0.]);
    }

    #[test]
    fn explicit_hydrogens_become_nodes() {
        let m = parse("C=O").unwrap();
        let g = m
            .to_graph(Hydrogens::Explicit, false, GraphTarget::Values(vec![]))
            .unwrap();
        assert_eq!(g.num_nodes, 4);
        assert_eq!(g.src.len(), 6);
        assert_eq!(row(&g, 0)[10], 2.0);
        assert_eq!(row(&g, 2), [1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0.]);
        // Written hydrogens fold into their heavy atom in implicit mode.
        let g = parse("[H]OC")
            .unwrap()
            .to_graph(Hydrogens::Implicit, false, GraphTarget::Values(vec![]))
            .unwrap();
        assert_eq!(g.num_nodes, 2);
        assert_eq!(row(&g, 0)[10], 1.0);
        assert_eq!(row(&g, 1)[10], 3.0);
    }

    #[test]
    fn aromatic_ring_is_sp2_with_aromatic_bonds() {
        let g = parse("c1ccoc1")
            .unwrap()
            .to_graph(Hydrogens::Implicit, false, GraphTarget::Values(vec![]))
            .unwrap();
        for i in 0..5 {
            assert_eq!(row(&g, i)[6..10], [1., 0., 1., 0.]);
        }
        let attr = g.edge_attr.unwrap();
        assert!((0..attr.rows()).all(|r| attr.row(r) == [0., 0., 0., 1.]));
    }

    #[test]
    fn distances_need_positions() {
        let m = parse("CO").unwrap();
        assert!(
            m.to_graph(Hydrogens::Implicit, true, GraphTarget::Values(vec![]))
                .is_err()
        );
        let mut m = m;
        m.atoms[0].position = Some([0.0, 0.0, 0.0]);
        m.atoms[1].position = Some([0.0, 3.0, 4.0]);
        let g = m
            .to_graph(Hydrogens::Implicit, true, GraphTarget::Values(vec![]))
            .unwrap();
        assert_eq!(g.edge_attr.unwrap().row(0)[4], 5.0);
    }

    #[test]
    fn symbols_round_trip() {
        for z in 1..=54u8 {
            assert_eq!(Element::from_symbol(Element(z).symbol()), Some(Element(z)));
        }
        assert_eq!(Element(0).symbol(), "?");
        assert_eq!(Element(200).symbol(), "?");
    }
}
