//! [`Csr`]: a graph's edges grouped by one endpoint, and [`Adjacency`], both groupings of a
//! graph, built once and shared by every clone of it.

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

/// Edges grouped by one endpoint (the *row*): compressed sparse rows. Slot `k` of row `r`
/// holds an edge `edge[k]` whose grouping endpoint is `r` and whose other endpoint is
/// `other[k]`; a row's slots are in increasing edge id, so a sum over a row adds in one fixed
/// order — the same on every run and for every thread count.
///
/// Built by a stable counting sort: `O(E + R)` time, `16 E + 8 (R + 1)` bytes.
///
/// # Shapes
/// - `offsets`: `[R + 1]`, row `r` is `offsets[r]..offsets[r + 1]`; `other`, `edge`,
///   `slot_row` (the row of each slot): `[E]`; `slot`: `[E]`, the inverse of `edge`
///
/// Every slot `k` of a row `r` is `< E` with `slot_row[k] = r`, every `edge[k] < E` and every
/// `other[k] < other_end`: the fused kernels' loops over rows rely on it to read and store
/// without bounds checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    offsets: Vec<usize>,
    other: Vec<u32>,
    other_end: usize,
    edge: Vec<u32>,
    slot_row: Vec<u32>,
    slot: Vec<u32>,
}

impl Csr {
    /// Groups edges `e` by `row[e]` (each `< rows`), keeping `other[e]` beside each.
    ///
    /// # Panics
    /// If the lists differ in length or a row index is `>= rows` (callers pass a
    /// [`Graph`](crate::Graph)'s checked indices).
    pub fn group(row: &[u32], other: &[u32], rows: usize) -> Csr {
        assert_eq!(row.len(), other.len(), "one other endpoint per edge");
        let mut offsets = vec![0usize; rows + 1];
        for &r in row {
            offsets[r as usize + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next = offsets[..rows].to_vec();
        let (mut slot_other, mut slot_edge) = (vec![0u32; row.len()], vec![0u32; row.len()]);
        let (mut slot_row, mut slot) = (vec![0u32; row.len()], vec![0u32; row.len()]);
        for (e, (&r, &o)) in row.iter().zip(other).enumerate() {
            let k = &mut next[r as usize];
            slot_other[*k] = o;
            slot_edge[*k] = e as u32;
            slot_row[*k] = r;
            slot[e] = *k as u32;
            *k += 1;
        }
        Csr {
            offsets,
            other_end: other.iter().max().map_or(0, |&o| o as usize + 1),
            other: slot_other,
            edge: slot_edge,
            slot_row,
            slot,
        }
    }

    /// Number of rows `R`.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The slots of row `r`.
    pub fn row(&self, r: usize) -> Range<usize> {
        self.offsets[r]..self.offsets[r + 1]
    }

    /// The other endpoint of every slot, `[E]`.
    pub fn other(&self) -> &[u32] {
        &self.other
    }

    /// One past the largest other endpoint (0 without edges): every `other[k]` is below it.
    pub fn other_end(&self) -> usize {
        self.other_end
    }

    /// The edge id of every slot, `[E]`.
    pub fn edge(&self) -> &[u32] {
        &self.edge
    }

    /// The row of every slot, `[E]` (`k ∈ row(slot_row[k])`): where a loop over many rows'
    /// slots at once stores each slot's sum.
    pub fn slot_row(&self) -> &[u32] {
        &self.slot_row
    }

    /// The slot of every edge, `[E]` (`slot[edge[k]] = k`).
    pub fn slot(&self) -> &[u32] {
        &self.slot
    }

    /// `values` (`width` per slot, in slot order) in edge order.
    pub(crate) fn to_edge_order(&self, values: &[f32], width: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; values.len()];
        out.par_chunks_mut(width.max(1))
            .enumerate()
            .for_each(|(e, row)| {
                let k = self.slot[e] as usize;
                row.copy_from_slice(&values[k * width..(k + 1) * width]);
            });
        out
    }

    /// A mutable slice of `values` (`width` per slot, in slot order) for every row.
    pub(crate) fn split_rows<'a>(
        &self,
        mut values: &'a mut [f32],
        width: usize,
    ) -> Vec<&'a mut [f32]> {
        let mut rows = Vec::with_capacity(self.rows());
        for r in 0..self.rows() {
            let (row, rest) = values.split_at_mut(self.row(r).len() * width);
            rows.push(row);
            values = rest;
        }
        rows
    }
}

/// A graph's edges `src[e] → dst[e]` grouped both ways: by target (what aggregation reads)
/// and, on first use, by source (what the gradient of a gather reads). Shared by every
/// [`Graph`](crate::Graph) with the same edges (clones, reweighted copies, other devices).
#[derive(Debug)]
pub struct Adjacency {
    src: Arc<[u32]>,
    dst: Arc<[u32]>,
    by_target: Csr,
    by_source: OnceLock<Csr>,
    #[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
    copies: DeviceCopies,
}

/// Copies of a graph's groupings that a device's kernels keep in its own memory, made on
/// first use and dropped with the graph.
#[derive(Default)]
struct DeviceCopies(Mutex<Vec<Arc<dyn Any + Send + Sync>>>);

impl fmt::Debug for DeviceCopies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().map_or(0, |copies| copies.len());
        write!(f, "DeviceCopies({n})")
    }
}

impl Adjacency {
    /// The adjacency of edges `src[e] → dst[e]` into `targets` nodes.
    pub fn new(src: Arc<[u32]>, dst: Arc<[u32]>, targets: usize) -> Adjacency {
        let by_target = Csr::group(&dst, &src, targets);
        Adjacency {
            src,
            dst,
            by_target,
            by_source: OnceLock::new(),
            copies: DeviceCopies::default(),
        }
    }

    /// The first kept copy of type `T` that `fits`, or a new one made by `make` and kept for
    /// the next call: how accelerator kernels keep the groupings on their device, one upload
    /// per graph, device and grouping.
    #[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
    pub(crate) fn device_copy<T: Any + Send + Sync>(
        &self,
        fits: impl Fn(&T) -> bool,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let mut copies = self.copies.0.lock().unwrap_or_else(|e| e.into_inner());
        let kept = copies
            .iter()
            .filter_map(|c| c.clone().downcast::<T>().ok())
            .find(|c| fits(c));
        kept.unwrap_or_else(|| {
            let made = Arc::new(make());
            copies.push(made.clone());
            made
        })
    }

    /// The edges grouped by target: row `i` holds the edges `j → i`, `other` the sources.
    pub fn by_target(&self) -> &Csr {
        &self.by_target
    }

    /// The edges grouped by source: row `j` holds the edges `j → i`, `other` the targets;
    /// `max(src) + 1` rows (sources may index a larger node set than the targets).
    pub fn by_source(&self) -> &Csr {
        self.by_source.get_or_init(|| {
            let rows = self.src.iter().max().map_or(0, |&m| m as usize + 1);
            Csr::group(&self.src, &self.dst, rows)
        })
    }

    /// Source of every edge, `[E]`.
    pub fn src(&self) -> &[u32] {
        &self.src
    }

    /// Target of every edge, `[E]`.
    pub fn dst(&self) -> &[u32] {
        &self.dst
    }

    /// Number of edges `E`.
    pub fn num_edges(&self) -> usize {
        self.src.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_match_brute_force_in_edge_order() {
        // Repeated edges, an empty row (1), a loop (2 → 2).
        let src: Vec<u32> = vec![3, 0, 2, 3, 0, 2, 0];
        let dst: Vec<u32> = vec![0, 2, 2, 0, 3, 0, 2];
        let csr = Csr::group(&dst, &src, 4);
        assert_eq!(csr.rows(), 4);
        for r in 0..4 {
            let want: Vec<u32> = (0..7u32).filter(|&e| dst[e as usize] == r as u32).collect();
            let slots = csr.row(r);
            assert_eq!(&csr.edge()[slots.clone()], &want[..], "row {r}");
            for k in slots {
                assert_eq!(csr.other()[k], src[csr.edge()[k] as usize]);
                assert_eq!(csr.slot()[csr.edge()[k] as usize] as usize, k);
                assert_eq!(csr.slot_row()[k] as usize, r);
            }
        }
        assert!(csr.row(1).is_empty());
        assert_eq!(csr.other_end(), 4);
        assert_eq!(Csr::group(&[], &[], 3).other_end(), 0);
    }

    #[test]
    fn adjacency_groups_sources_over_their_own_range() {
        // Bipartite: 5 sources into 2 targets.
        let adj = Adjacency::new(vec![4, 1, 4].into(), vec![0, 1, 1].into(), 2);
        assert_eq!(adj.by_target().rows(), 2);
        let by_source = adj.by_source();
        assert_eq!(by_source.rows(), 5);
        assert_eq!(&by_source.edge()[by_source.row(4)], &[0, 2]);
        assert_eq!(&by_source.other()[by_source.row(4)], &[0, 1]);
        assert!(by_source.row(0).is_empty());
        assert_eq!(by_source.other_end(), 2);
    }
}
