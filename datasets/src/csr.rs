//! [`Csr`]: the in-neighbour lists of a graph (compressed sparse rows over targets), built
//! from an edge list in `O(N + E)` by a counting sort — what a neighbour sampler walks.

use crate::DatasetError;

/// The in-edges of every node, grouped by target: node `v`'s in-edges are the entries
/// `offsets[v]..offsets[v + 1]`, each with its source in `sources` and its position in the
/// input edge list in `edge_ids` (to find its features or relation type). Within a target the
/// input order is kept (the sort is stable), so the structure is a pure function of the edge
/// list.
///
/// Ids are 32-bit: `N` and `E` must be below 2^32 (the largest graphs this library trains on
/// are ~10^9 edges); a larger graph is an error, not a silent truncation. Memory:
/// `8·E + 4·(N + 1)` bytes ([`bytes`](Self::bytes)).
///
/// # Shapes
/// - `offsets`: `[N + 1]`, non-decreasing, `offsets[0] = 0`, `offsets[N] = E`
/// - `sources`, `edge_ids`: `[E]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    offsets: Vec<u32>,
    sources: Vec<u32>,
    edge_ids: Vec<u32>,
}

impl Csr {
    /// Groups the edges `src[e] → dst[e]` of a graph of `num_nodes` nodes by target: count the
    /// in-degrees, prefix-sum them into offsets, then place each edge at its target's next
    /// free slot (`O(N + E)` time, no comparison sort).
    pub fn from_edges(
        num_nodes: usize,
        src: &[usize],
        dst: &[usize],
    ) -> Result<Self, DatasetError> {
        let invalid = |why: String| Err(DatasetError::Invalid(format!("csr: {why}")));
        if src.len() != dst.len() {
            return invalid(format!("{} sources but {} targets", src.len(), dst.len()));
        }
        let limit = u32::MAX as usize;
        if num_nodes >= limit || src.len() >= limit {
            return invalid(format!(
                "{num_nodes} nodes and {} edges do not fit 32-bit ids",
                src.len()
            ));
        }
        if let Some(e) = src
            .iter()
            .zip(dst)
            .position(|(&s, &d)| s >= num_nodes || d >= num_nodes)
        {
            return invalid(format!(
                "edge {e} ({} -> {}) points outside 0..{num_nodes}",
                src[e], dst[e]
            ));
        }
        let mut offsets = vec![0u32; num_nodes + 1];
        for &d in dst {
            offsets[d + 1] += 1;
        }
        for v in 0..num_nodes {
            offsets[v + 1] += offsets[v];
        }
        let mut next = offsets[..num_nodes].to_vec();
        let mut sources = vec![0u32; src.len()];
        let mut edge_ids = vec![0u32; src.len()];
        for (e, (&s, &d)) in src.iter().zip(dst).enumerate() {
            let slot = next[d] as usize;
            next[d] += 1;
            sources[slot] = s as u32;
            edge_ids[slot] = e as u32;
        }
        Ok(Csr {
            offsets,
            sources,
            edge_ids,
        })
    }

    /// Number of nodes `N`.
    pub fn num_nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of edges `E`.
    pub fn num_edges(&self) -> usize {
        self.sources.len()
    }

    /// In-degree of `v`.
    pub fn in_degree(&self, v: usize) -> usize {
        (self.offsets[v + 1] - self.offsets[v]) as usize
    }

    /// The sources of `v`'s in-edges, in input order.
    pub fn in_neighbors(&self, v: usize) -> &[u32] {
        &self.sources[self.range(v)]
    }

    /// The input edge ids of `v`'s in-edges, aligned with [`in_neighbors`](Self::in_neighbors).
    pub fn in_edge_ids(&self, v: usize) -> &[u32] {
        &self.edge_ids[self.range(v)]
    }

    /// Bytes held: `8·E + 4·(N + 1)`.
    pub fn bytes(&self) -> usize {
        4 * (self.offsets.len() + self.sources.len() + self.edge_ids.len())
    }

    fn range(&self, v: usize) -> std::ops::Range<usize> {
        self.offsets[v] as usize..self.offsets[v + 1] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SplitMix64;

    #[test]
    fn in_neighbours_equal_a_brute_force_adjacency() {
        let mut rng = SplitMix64::new(7);
        let n = 50;
        // Repeated edges, self-loops and nodes without in-edges included.
        let (src, dst): (Vec<usize>, Vec<usize>) =
            (0..400).map(|_| (rng.below(n), rng.below(n / 2))).unzip();
        let csr = Csr::from_edges(n, &src, &dst).unwrap();
        assert_eq!((csr.num_nodes(), csr.num_edges()), (n, 400));
        for v in 0..n {
            let expected: Vec<(u32, u32)> = (0..src.len())
                .filter(|&e| dst[e] == v)
                .map(|e| (src[e] as u32, e as u32))
                .collect();
            let got: Vec<(u32, u32)> = csr
                .in_neighbors(v)
                .iter()
                .copied()
                .zip(csr.in_edge_ids(v).iter().copied())
                .collect();
            assert_eq!(got, expected, "node {v}");
            assert_eq!(csr.in_degree(v), expected.len());
        }
        assert_eq!(csr.bytes(), 4 * (n + 1) + 8 * 400);
    }

    #[test]
    fn an_empty_graph_and_bad_edges() {
        let csr = Csr::from_edges(3, &[], &[]).unwrap();
        assert_eq!(
            (csr.num_nodes(), csr.num_edges(), csr.in_degree(2)),
            (3, 0, 0)
        );
        let err = Csr::from_edges(3, &[0, 3], &[1, 1]).unwrap_err();
        assert!(err.to_string().contains("edge 1 (3 -> 1)"), "{err}");
        assert!(Csr::from_edges(3, &[0], &[]).is_err());
        assert!(Csr::from_edges(u32::MAX as usize, &[], &[]).is_err());
    }
}
