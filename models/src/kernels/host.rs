//! The fused kernels on host memory: plain loops over output rows (or edges), run in parallel
//! across them. Every output value is computed by one serial loop in a fixed order, so the
//! results are bitwise the same for every thread count and run.

use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use super::csr::Csr;

/// Which input row a CSR slot reads: its other endpoint's (a gather fused into the sum) or its
/// edge's own (a sum of per-edge messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// `x[other[k]]`: `x` has a row per node.
    Other,
    /// `x[edge[k]]`: `x` has a row per edge.
    Edge,
}

/// Rows handed to a parallel task at once: about 16 K values each, so small rows do not drown
/// in scheduling.
fn grain(f: usize) -> usize {
    ((1 << 14) / f.max(1)).max(1)
}

/// Slots ahead whose input row is prefetched: the rows are gathered in random order, so each
/// is a cache miss unless asked for early.
const PREFETCH: usize = 8;

/// Input size, in bytes, above which a gather prefetches its rows: an input this small stays
/// in the core's caches, where a prefetch is only instructions (about half the per-slot
/// work when rows are 16 values wide).
const PREFETCH_ABOVE: usize = 1 << 20;

/// Asks the CPU to bring `x`'s row `i` (`f` values) into cache: a hint for loops that read rows
/// in random order (no effect off x86-64, nothing when the row is outside `x`).
#[inline(always)]
pub fn prefetch_row(x: &[f32], i: usize, f: usize) {
    prefetch_span(x, i * f, f);
}

/// [`prefetch_row`] for the `len` values of `x` from `start`.
#[inline(always)]
fn prefetch_span(x: &[f32], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // 16 floats per 64-byte line: the span's first and last lines cover short spans.
        for at in [start, start + len.max(1) - 1] {
            if let Some(v) = x.get(at) {
                // SAFETY: a prefetch is a hint that never faults, and SSE is part of every
                // x86-64 target; the pointer comes from a live slice element.
                unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const f32).cast()) };
            }
        }
    }
}

/// `acc += a · x`, element-wise.
#[inline(always)]
fn axpy(acc: &mut [f32], a: f32, x: &[f32]) {
    for (o, v) in acc.iter_mut().zip(x) {
        *o += a * v;
    }
}

/// `v` if `keep`, else `+0`, without a branch: `v`'s bits under an all-ones mask or zeros.
#[inline(always)]
fn kept(v: f32, keep: bool) -> f32 {
    f32::from_bits(v.to_bits() & u32::from(keep).wrapping_neg())
}

/// Columns of a row summed at once, in registers ([`sum_columns`]).
const BLOCK: usize = 16;

/// `sum[j] += a · x[at + j]` for all `B` lanes; past the `width` wanted they read the values
/// that follow in `x`, or zeros (`padded`) at its end, so the loop has a fixed length.
#[inline(always)]
fn add_row<const B: usize>(
    sum: &mut [f32; B],
    a: f32,
    x: &[f32],
    (at, width): (usize, usize),
    padded: &mut [f32; B],
) {
    let row: &[f32; B] = match x.get(at..at + B).and_then(|r| r.try_into().ok()) {
        Some(row) => row,
        None => {
            padded[..width].copy_from_slice(&x[at..at + width]);
            padded
        }
    };
    axpy(sum, a, row);
}

/// What a loop over CSR slots reads: columns `col..col + width` of the row `index[k]` of `x`
/// (`f` values a row) for slot `k`, whose edge is `edge[k]`, and with `prefetch` (the edges'
/// weights) the row and weight [`PREFETCH`] slots ahead, asked for early.
#[derive(Clone, Copy)]
struct Gather<'a> {
    x: &'a [f32],
    f: usize,
    index: &'a [u32],
    /// One past the largest `index[k]` (0 without slots).
    index_end: usize,
    edge: &'a [u32],
    cols: (usize, usize),
    prefetch: Option<&'a [f32]>,
}

impl Gather<'_> {
    /// Slots `slots` as `(k, index[k], edge[k])`, read from subslices so the loop over them
    /// checks no bounds per slot.
    #[inline(always)]
    fn slots(&self, slots: Range<usize>) -> impl Iterator<Item = (usize, u32, usize)> {
        let (index, edge) = (&self.index[slots.clone()], &self.edge[slots.clone()]);
        slots
            .zip(index.iter().zip(edge))
            .map(|(k, (&i, &e))| (k, i, e as usize))
    }

    /// Whether every slot's `B` lanes lie inside `x` (`(index_end − 1) · f + col + B ≤
    /// |x|`), so [`Gather::add`] reads them without a bounds check or padding: true unless
    /// the lanes past a row's last column reach past `x`'s end.
    #[inline(always)]
    fn inside<const B: usize>(&self) -> bool {
        self.index_end == 0 || (self.index_end - 1) * self.f + self.cols.0 + B <= self.x.len()
    }

    /// `sum += a · x[i]` over `B` lanes for slot `k`, whose input row is `i = index[k]`
    /// ([`add_row`]).
    #[inline(always)]
    fn add<const B: usize, const INSIDE: bool>(
        &self,
        sum: &mut [f32; B],
        (k, i): (usize, u32),
        a: f32,
        padded: &mut [f32; B],
    ) {
        let (col, width) = self.cols;
        if let Some(w) = self.prefetch
            && let Some(&ahead) = self.index.get(k + PREFETCH)
        {
            prefetch_span(self.x, ahead as usize * self.f + col, width);
            prefetch_row(w, self.edge[k + PREFETCH] as usize, 1);
        }
        let i = i as usize;
        let at = i * self.f + col;
        if INSIDE {
            debug_assert!(self.inside::<B>() && i < self.index_end);
            // SAFETY: `i < index_end` (`row_sums` takes `index_end` from the CSR, whose
            // indices are all below it), so `at + B ≤ (index_end − 1) · f + col + B ≤ |x|`.
            let row = unsafe { &*self.x.as_ptr().add(at).cast::<[f32; B]>() };
            axpy(sum, a, row);
        } else {
            add_row(sum, a, self.x, (at, width), padded);
        }
    }
}

/// `out[j] = Σ_{k ∈ slots} weight(k) · x[index[k] · f + col + j]` for the `width ≤ B` columns
/// `j` of `g`, summed in registers in slot order — one add per slot and value, in the same
/// order as a loop that adds each slot's row into `out` in memory, without that loop's store
/// and reload of `out` for every slot. All `B` lanes are computed and the first `width` kept
/// ([`add_row`]).
#[inline(always)]
fn sum_columns<const B: usize>(
    out: &mut [f32],
    g: Gather<'_>,
    slots: Range<usize>,
    weight: impl Fn(usize) -> f32,
) {
    /// The sum in registers, each slot's row read without a bounds check when `INSIDE`.
    #[inline(always)]
    fn sum<const B: usize, const INSIDE: bool>(
        g: Gather<'_>,
        slots: Range<usize>,
        weight: impl Fn(usize) -> f32,
    ) -> [f32; B] {
        let mut sum = [0.0f32; B];
        let mut padded = [0.0f32; B];
        for (k, i, e) in g.slots(slots) {
            g.add::<B, INSIDE>(&mut sum, (k, i), weight(e), &mut padded);
        }
        sum
    }
    let sum = if g.inside::<B>() {
        sum::<B, true>(g, slots, weight)
    } else {
        sum::<B, false>(g, slots, weight)
    };
    // Only fixed-index reads of `sum` above, so it stays in registers; the width indexes a copy.
    match <&mut [f32; B]>::try_from(&mut *out) {
        Ok(out) => *out = sum,
        Err(_) => out.copy_from_slice(&sum[..out.len()]),
    }
}

/// [`sum_columns`] of `g`'s columns: [`BLOCK`] of them, or fewer for the last ones (8 lanes
/// for 8 or fewer).
#[inline(always)]
fn sum_block(out: &mut [f32], g: Gather<'_>, slots: Range<usize>, weight: impl Fn(usize) -> f32) {
    if g.cols.1 <= BLOCK / 2 {
        sum_columns::<{ BLOCK / 2 }>(out, g, slots, weight)
    } else {
        sum_columns::<BLOCK>(out, g, slots, weight)
    }
}

/// One CSR row's sum with a weight per edge and head into `acc` (zeros on entry; see
/// [`row_sums`]): one pass over the slots, each slot's row added head by head into `acc` (the
/// heads' weights differ per slot, and a head's columns are few).
#[inline(always)]
fn sum_row_heads(
    acc: &mut [f32],
    x: &[f32],
    (index, edge): (&[u32], &[u32]),
    slots: Range<usize>,
    (w, heads): (&[f32], usize),
    prefetch: bool,
) {
    let f = acc.len();
    let c = f / heads;
    for k in slots {
        if prefetch && let Some(&next) = index.get(k + PREFETCH) {
            prefetch_row(x, next as usize, f);
            prefetch_row(w, edge[k + PREFETCH] as usize, heads);
        }
        let (i, e) = (index[k] as usize, edge[k] as usize);
        let xi = &x[i * f..(i + 1) * f];
        let we = &w[e * heads..(e + 1) * heads];
        for ((acc, xi), &a) in acc.chunks_exact_mut(c).zip(xi.chunks_exact(c)).zip(we) {
            axpy(acc, a, xi);
        }
    }
}

/// Rows of a CSR that one call of [`sum_run`] sums: enough to spread the call's cost thin.
const RUN: usize = 64;

/// Mean slots per row up to which a run of rows is summed by one loop over all its slots
/// ([`sum_columns_flat`]) instead of row by row. Measured on one thread with AVX2, 16 columns:
/// GCN-Cora's propagations (5 slots a row, input in cache) 30–40 % faster flat, its `X W` (18)
/// the same, `X W`'s gradient (34) ~12 % slower; on 10^5 rows with a 6.4 MB input (every row
/// a cache miss) 5 slots a row the same and 11 slots ~25 % slower: the stores the flat loop
/// adds cost more than the mispredictions it saves once rows are longer.
const FLAT_UP_TO: usize = 8;

/// [`sum_columns`] for every row of a run at once: `Σ_{k ∈ row r} weight(k) · x[index[k] · f +
/// col + j]` for the run's rows `r` (from `first`) and `B` lanes `j` from `g`'s column, in one
/// loop over the rows' slots. The running sum stays in registers, is handed to `store` with
/// its row's place in the run after every slot and cleared after a row's last (its slot row,
/// [`Csr::slot_row`], differs from the next slot's): where a row ends costs no branch. A loop
/// per row ends with a branch that mispredicts about once a row when rows are short and of
/// random lengths (GCN-Cora's propagations: 5 slots a row, 2,708 rows, ~35 % of their time).
///
/// Every value is still one serial sum in slot order, starting from `+0`: bitwise what
/// [`sum_columns`] computes. A row's last store holds its sum; rows without slots get none.
#[inline(always)]
fn sum_columns_flat<const B: usize>(
    g: Gather<'_>,
    (slot_row, first, slots): (&[u32], usize, Range<usize>),
    weight: impl Fn(usize) -> f32,
    store: impl FnMut(usize, &[f32; B]),
) {
    if g.inside::<B>() {
        flat::<B, true>(g, (slot_row, first, slots), weight, store)
    } else {
        flat::<B, false>(g, (slot_row, first, slots), weight, store)
    }
}

/// [`sum_columns_flat`]'s loop, each slot's row read without a bounds check when `INSIDE`
/// ([`Gather::add`]).
#[inline(always)]
fn flat<const B: usize, const INSIDE: bool>(
    g: Gather<'_>,
    (slot_row, first, slots): (&[u32], usize, Range<usize>),
    weight: impl Fn(usize) -> f32,
    mut store: impl FnMut(usize, &[f32; B]),
) {
    let mut sum = [0.0f32; B];
    let mut padded = [0.0f32; B];
    let rows = &slot_row[slots.clone()];
    for (j, ((k, i, e), &row)) in g.slots(slots).zip(rows).enumerate() {
        g.add::<B, INSIDE>(&mut sum, (k, i), weight(e), &mut padded);
        store(row as usize - first, &sum);
        // Kept while the next slot is in the same row, else cleared — by a mask, not a branch.
        // (The slot after the run's last is in a later row.)
        let same_row = rows.get(j + 1) == Some(&row);
        for s in sum.iter_mut() {
            *s = kept(*s, same_row);
        }
    }
}

/// [`sum_columns_flat`] into `out` (the run's rows, `f` values each; zeros on entry) for
/// `g`'s columns, `B` lanes of which the first `width` are kept: stored straight into `out`
/// when `width = B`, else into a buffer whose first `width` lanes are copied out after, so no
/// store reaches past a row's columns.
#[inline(always)]
fn sum_lanes_flat<const B: usize>(
    out: &mut [f32],
    g: Gather<'_>,
    rows: (&[u32], usize, Range<usize>),
    weight: impl Fn(usize) -> f32,
) {
    let (f, (col, width)) = (g.f, g.cols);
    // A run's slots are in its rows (`slot_row[k] = r` for every slot `k` of row `r`: `Csr`),
    // so each store's `r` is below the run's row count, `|out| / f ≤ RUN`.
    if width == B {
        let end = out.len();
        let out = out.as_mut_ptr();
        sum_columns_flat::<B>(g, rows, weight, |r, sum| {
            let at = r * f + col;
            debug_assert!(at + B <= end);
            // SAFETY: `r < |out| / f` (above) and `col + B = col + width ≤ f`.
            unsafe { out.add(at).cast::<[f32; B]>().write_unaligned(*sum) }
        });
    } else {
        let mut buffer = [[0.0f32; B]; RUN];
        sum_columns_flat::<B>(g, rows, weight, |r, sum| {
            debug_assert!(r < RUN);
            // SAFETY: `r < |out| / f ≤ RUN` (above).
            unsafe { *buffer.get_unchecked_mut(r) = *sum }
        });
        for (r, lanes) in out.chunks_mut(f).zip(&buffer) {
            r[col..col + width].copy_from_slice(&lanes[..width]);
        }
    }
}

/// [`sum_lanes_flat`] of `g`'s columns: [`BLOCK`] of them, or fewer for the last ones (8 lanes
/// for 8 or fewer).
#[inline(always)]
fn sum_block_flat(
    out: &mut [f32],
    g: Gather<'_>,
    rows: (&[u32], usize, Range<usize>),
    weight: impl Fn(usize) -> f32,
) {
    if g.cols.1 <= BLOCK / 2 {
        sum_lanes_flat::<{ BLOCK / 2 }>(out, g, rows, weight)
    } else {
        sum_lanes_flat::<BLOCK>(out, g, rows, weight)
    }
}

/// Rows `first..first + out.len() / f` of [`row_sums`] into `out` (zeros on entry, at most
/// [`RUN`] rows). A weight per edge and head: row by row ([`sum_row_heads`]); else [`BLOCK`]
/// columns at a time, short rows ([`FLAT_UP_TO`]) in one loop over all their slots
/// ([`sum_columns_flat`]), longer ones row by row ([`sum_columns`]).
#[inline(always)]
fn sum_run(
    out: &mut [f32],
    (f, first): (usize, usize),
    x: &[f32],
    (csr, index, index_end): (&Csr, &[u32], usize),
    (w, heads): (Option<&[f32]>, usize),
    prefetch: bool,
) {
    let rows = out.len() / f;
    let slots = csr.row(first).start..csr.row(first + rows - 1).end;
    let edge = csr.edge();
    match w {
        Some(w) if heads > 1 => {
            for (i, acc) in out.chunks_mut(f).enumerate() {
                sum_row_heads(
                    acc,
                    x,
                    (index, edge),
                    csr.row(first + i),
                    (w, heads),
                    prefetch,
                );
            }
        }
        _ if prefetch => sum_run_columns(
            out,
            (f, first, slots),
            x,
            (csr, index, index_end),
            w,
            Some(w.unwrap_or(&[])),
        ),
        _ => sum_run_columns(out, (f, first, slots), x, (csr, index, index_end), w, None),
    }
}

/// [`sum_run`] without a weight per head: [`BLOCK`] columns at a time, short rows in one loop
/// over all their slots, longer ones row by row. `prefetch` is a constant at each call, so
/// each loop is compiled with or without prefetching rather than testing it every slot.
#[inline(always)]
fn sum_run_columns(
    out: &mut [f32],
    (f, first, slots): (usize, usize, Range<usize>),
    x: &[f32],
    (csr, index, index_end): (&Csr, &[u32], usize),
    w: Option<&[f32]>,
    prefetch: Option<&[f32]>,
) {
    let rows = out.len() / f;
    let edge = csr.edge();
    let gather = |col: usize| {
        let cols = (col, (f - col).min(BLOCK));
        Gather {
            x,
            f,
            index,
            index_end,
            edge,
            cols,
            prefetch,
        }
    };
    // Edge ids are below `E ≤ |w|` (checked by `row_sums`).
    let weight = |w: &[f32], e: usize| {
        debug_assert!(e < w.len());
        // SAFETY: a CSR's edge ids are below its edge count, and `row_sums` checked
        // that `w` holds a weight for each.
        unsafe { *w.get_unchecked(e) }
    };
    if slots.len() <= FLAT_UP_TO * rows {
        for col in (0..f).step_by(BLOCK) {
            let rows = (csr.slot_row(), first, slots.clone());
            match w {
                None => sum_block_flat(out, gather(col), rows, |_| 1.0),
                Some(w) => sum_block_flat(out, gather(col), rows, |e| weight(w, e)),
            }
        }
    } else {
        for (r, acc) in (first..).zip(out.chunks_mut(f)) {
            for (col, acc) in (0..).step_by(BLOCK).zip(acc.chunks_mut(BLOCK)) {
                match w {
                    None => sum_block(acc, gather(col), csr.row(r), |_| 1.0),
                    Some(w) => sum_block(acc, gather(col), csr.row(r), |e| weight(w, e)),
                }
            }
        }
    }
}

/// Defines `fn $on(avx2: bool, args…)`, which runs `$body(args…)` compiled for AVX2 when
/// `avx2` (the caller checked [`has_avx2`]: twice the SSE2 baseline's vector width for the loops
/// `$body` inlines), else for the baseline. No fused multiply-add is enabled, so every lane
/// computes what the baseline would: the results are bitwise the same either way.
macro_rules! on_avx2 {
    (fn $on:ident = $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        #[inline(always)]
        fn $on(avx2: bool, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                #[target_feature(enable = "avx2")]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                // SAFETY: the caller checked that the CPU has AVX2.
                return unsafe { wide($($arg),*) };
            }
            let _ = avx2;
            $body($($arg),*)
        }
    };
}

on_avx2!(fn sum_run_on = sum_run(
    out: &mut [f32],
    at: (usize, usize),
    x: &[f32],
    slots_of: (&Csr, &[u32], usize),
    weights: (Option<&[f32]>, usize),
    prefetch: bool,
));

/// Whether the CPU has AVX2 (never off x86-64).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The weighted sum of every CSR row, per head:
///
/// `out[r, h, :] = Σ_{k ∈ row r} w[edge[k], h] · x[i_k, h, :]`, `i_k` by [`Read`], `w = 1` when
/// absent; rows past `csr.rows()` are 0.
///
/// # Shapes
/// - `x`: `[·, F]` with `F = heads · C`; `w`: `[E, heads]`; output `[rows, F]`
pub fn row_sums(
    csr: &Csr,
    rows: usize,
    x: &[f32],
    f: usize,
    w: Option<&[f32]>,
    heads: usize,
    read: Read,
) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * f];
    if f == 0 {
        return out;
    }
    let (index, index_end) = match read {
        Read::Other => (csr.other(), csr.other_end()),
        Read::Edge => (csr.edge(), csr.edge().len()),
    };
    assert!(
        index_end * f <= x.len(),
        "row_sums: x has fewer rows than the CSR reads"
    );
    if let Some(w) = w {
        assert!(
            w.len() >= csr.edge().len() * heads,
            "row_sums: a weight per edge and head"
        );
    }
    let prefetch = std::mem::size_of_val(x) + w.map_or(0, std::mem::size_of_val) > PREFETCH_ABOVE;
    let avx2 = has_avx2();
    let filled = csr.rows().min(rows) * f;
    out[..filled]
        .par_chunks_mut(RUN * f)
        .with_min_len(grain(f).div_ceil(RUN))
        .enumerate()
        .for_each(|(b, run)| {
            sum_run_on(
                avx2,
                run,
                (f, b * RUN),
                x,
                (csr, index, index_end),
                (w, heads),
                prefetch,
            )
        });
    out
}

/// Every edge's row of `g`, scaled per head: `out[e, h, :] = w[e, h] · g[index[e], h, :]`.
///
/// # Shapes
/// - `g`: `[·, F]`, `index`: `[E]`, `w`: `[E, heads]`; output `[E, F]`
pub fn edge_rows(index: &[u32], g: &[f32], f: usize, w: Option<&[f32]>, heads: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; index.len() * f];
    if f == 0 {
        return out;
    }
    let c = f / heads;
    out.par_chunks_mut(f)
        .with_min_len(grain(f))
        .enumerate()
        .for_each(|(e, row)| {
            let i = index[e] as usize;
            let gi = &g[i * f..(i + 1) * f];
            match w {
                None => row.copy_from_slice(gi),
                Some(w) => {
                    for h in 0..heads {
                        let cols = h * c..(h + 1) * c;
                        axpy(&mut row[cols.clone()], w[e * heads + h], &gi[cols]);
                    }
                }
            }
        });
    out
}

/// Per edge and head, the dot product of `a`'s row at `a_index[e]` with `b`'s row at
/// `b_index[e]` (or at `e` when `b_index` is `None`):
///
/// `out[e, h] = Σ_c a[a_index[e], h, c] · b[b_index[e], h, c]`
///
/// # Shapes
/// - `a`, `b`: `[·, F]` with `F = heads · C`; output `[E, heads]`
pub fn edge_dots(
    a: &[f32],
    a_index: &[u32],
    b: &[f32],
    b_index: Option<&[u32]>,
    f: usize,
    heads: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; a_index.len() * heads];
    let c = f / heads.max(1);
    out.par_chunks_mut(heads.max(1))
        .with_min_len(grain(f))
        .enumerate()
        .for_each(|(e, dots)| {
            let i = a_index[e] as usize;
            let j = b_index.map_or(e, |b| b[e] as usize);
            let (ai, bj) = (&a[i * f..(i + 1) * f], &b[j * f..(j + 1) * f]);
            for (h, d) in dots.iter_mut().enumerate() {
                let cols = h * c..(h + 1) * c;
                *d = ai[cols.clone()]
                    .iter()
                    .zip(&bj[cols])
                    .map(|(p, q)| p * q)
                    .sum();
            }
        });
    out
}

/// Runs `f(r, out_r)` for every CSR row `r` in parallel, `out_r` the row's slots (`width` values
/// each) of a buffer in slot order, and returns the buffer in edge order.
fn per_row_slots(csr: &Csr, width: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut by_slot = vec![0.0f32; csr.edge().len() * width];
    csr.split_rows(&mut by_slot, width)
        .into_par_iter()
        .with_min_len(grain(8 * width))
        .enumerate()
        .for_each(|(r, out)| f(r, out));
    csr.to_edge_order(&by_slot, width)
}

/// Head `h` of one row's softmax: `out[k · heads + h] = exp(s_k − m) / Σ_k' exp(s_k' − m)` over
/// the row's `n` scores `s_k = score(k)`, `m` their maximum.
#[inline]
fn softmax_slots(out: &mut [f32], heads: usize, h: usize, n: usize, score: impl Fn(usize) -> f32) {
    let m = (0..n).map(&score).fold(f32::NEG_INFINITY, f32::max);
    // The normaliser is summed in f64: a row can hold 10^4 edges.
    let mut z = 0.0f64;
    for k in 0..n {
        let v = (score(k) - m).exp();
        out[k * heads + h] = v;
        z += v as f64;
    }
    let z = z as f32;
    for k in 0..n {
        out[k * heads + h] /= z;
    }
}

/// Head `h` of one row's softmax gradient, each slot's scaled by `scale(k)`:
/// `out[k · heads + h] = scale(k) · y_k · (g_k − Σ_k' y_k' g_k')` for the row's edges (`y`, `g`
/// in edge order).
#[inline]
fn softmax_backward_slots(
    out: &mut [f32],
    (heads, h): (usize, usize),
    edges: &[u32],
    (y, g): (&[f32], &[f32]),
    scale: impl Fn(usize) -> f32,
) {
    let at = |e: &u32| *e as usize * heads + h;
    // `g − Σ y g` cancels when one edge dominates: the sum is taken in f64.
    let dot: f64 = edges
        .iter()
        .map(|e| y[at(e)] as f64 * g[at(e)] as f64)
        .sum();
    let dot = dot as f32;
    for (k, e) in edges.iter().enumerate() {
        out[k * heads + h] = scale(k) * y[at(e)] * (g[at(e)] - dot);
    }
}

/// Softmax over every CSR row, per head (each edge's score against the other edges of its row):
///
/// `out[e, h] = exp(s[e, h] − m[r, h]) / Σ_{e' in row r} exp(s[e', h] − m[r, h])`, `r` the row of
/// `e` and `m[r, h]` the row's maximum, so no exponential overflows.
///
/// # Shapes
/// - `s`: `[E, heads]` in edge order; output `[E, heads]` in edge order
pub fn row_softmax(csr: &Csr, s: &[f32], heads: usize) -> Vec<f32> {
    per_row_slots(csr, heads, |r, out| {
        let edges = &csr.edge()[csr.row(r)];
        for h in 0..heads {
            softmax_slots(out, heads, h, edges.len(), |k| {
                s[edges[k] as usize * heads + h]
            });
        }
    })
}

/// The gradient of [`row_softmax`] from its output `y` and `g = ∂L/∂y`:
///
/// `∂L/∂s[e, h] = y[e, h] · (g[e, h] − Σ_{e' in row r} y[e', h] · g[e', h])`
///
/// # Shapes
/// - `y`, `g`: `[E, heads]` in edge order; output `[E, heads]` in edge order
pub fn row_softmax_backward(csr: &Csr, y: &[f32], g: &[f32], heads: usize) -> Vec<f32> {
    per_row_slots(csr, heads, |r, out| {
        let edges = &csr.edge()[csr.row(r)];
        for h in 0..heads {
            softmax_backward_slots(out, (heads, h), edges, (y, g), |_| 1.0);
        }
    })
}

/// GAT's attention over every CSR row (edges grouped by target), per head: the score of edge
/// `e = j → i` is `z = a_src[j, h] + a_dst[i, h]`, passed through a LeakyReLU of slope `slope`
/// and normalised by a softmax over the target's edges (stabilised by the row's maximum):
///
/// `α[e, h] = softmax_{e' → i}(LeakyReLU(a_src[j', h] + a_dst[i, h]))_e`
///
/// # Shapes
/// - `a_src`: `[N_s, heads]`, `a_dst`: `[N, heads]`; output `[E, heads]` in edge order
pub fn row_attention(
    csr: &Csr,
    a_src: &[f32],
    a_dst: &[f32],
    heads: usize,
    slope: f32,
) -> Vec<f32> {
    per_row_slots(csr, heads, |r, out| {
        let sources = &csr.other()[csr.row(r)];
        for h in 0..heads {
            let z = |k: usize| a_src[sources[k] as usize * heads + h] + a_dst[r * heads + h];
            softmax_slots(out, heads, h, sources.len(), |k| leaky(z(k), slope));
        }
    })
}

/// Per CSR row and head, the sum of the row's edges' values, accumulated in f64 (these sums
/// cancel: a softmax gradient sums to zero over a row up to the LeakyReLU's slope):
///
/// `out[r, h] = Σ_{e in row r} v[e, h]`, rows past `csr.rows()` 0
///
/// # Shapes
/// - `v`: `[E, heads]` in edge order; output `[rows, heads]`
pub fn row_totals(csr: &Csr, rows: usize, v: &[f32], heads: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * heads];
    let filled = csr.rows().min(rows) * heads;
    out[..filled]
        .par_chunks_mut(heads.max(1))
        .with_min_len(grain(8 * heads))
        .enumerate()
        .for_each(|(r, out)| {
            for (h, o) in out.iter_mut().enumerate() {
                let edges = &csr.edge()[csr.row(r)];
                *o = edges
                    .iter()
                    .map(|&e| v[e as usize * heads + h] as f64)
                    .sum::<f64>() as f32;
            }
        });
    out
}

/// The element-wise maximum of every CSR row's per-edge rows, and its winner: the first edge
/// (in edge order) that attains it, kept for the backward pass (PyG's `scatter_max` argmax);
/// an empty row gives 0 and no winner (`u32::MAX`).
///
/// `out[r, c] = max_{e in row r} x[e, c]`
///
/// # Shapes
/// - `x`: `[E, f]` (a row per edge); outputs `[rows, f]`
pub fn row_max(csr: &Csr, rows: usize, x: &[f32], f: usize) -> (Vec<f32>, Vec<u32>) {
    let (mut out, mut winner) = (vec![0.0f32; rows * f], vec![u32::MAX; rows * f]);
    let filled = csr.rows().min(rows) * f;
    if f > 0 {
        out[..filled]
            .par_chunks_mut(f)
            .zip(winner[..filled].par_chunks_mut(f))
            .with_min_len(grain(f))
            .enumerate()
            .for_each(|(r, (out, winner))| {
                for &e in &csr.edge()[csr.row(r)] {
                    let xe = &x[e as usize * f..(e as usize + 1) * f];
                    for c in 0..f {
                        if winner[c] == u32::MAX || xe[c] > out[c] {
                            (out[c], winner[c]) = (xe[c], e);
                        }
                    }
                }
            });
    }
    (out, winner)
}

/// The gradient of [`row_max`] at its per-edge input: each output's gradient goes to its
/// winner, every other edge gets 0.
///
/// # Shapes
/// - `g`, `winner`: `[rows, f]`; output `[E, f]` in edge order
pub fn row_max_backward(csr: &Csr, g: &[f32], winner: &[u32], f: usize) -> Vec<f32> {
    per_row_slots(csr, f, |r, out| {
        for (k, &e) in csr.edge()[csr.row(r)].iter().enumerate() {
            for c in 0..f {
                if winner[r * f + c] == e {
                    out[k * f + c] = g[r * f + c];
                }
            }
        }
    })
}

/// `max(z, 0) + slope · min(z, 0)`.
#[inline]
fn leaky(z: f32, slope: f32) -> f32 {
    if z > 0.0 { z } else { z * slope }
}

/// The gradient of [`row_attention`] at its scores, from its output `α` and `g = ∂L/∂α`:
///
/// `∂L/∂z[e, h] = LeakyReLU'(z[e, h]) · α[e, h] · (g[e, h] − Σ_{e' → i} α[e', h] · g[e', h])`
///
/// in edge order; `∂L/∂a_dst` and `∂L/∂a_src` are its sums over each target's and each
/// source's edges ([`row_totals`]).
///
/// # Shapes
/// - `alpha`, `g`: `[E, heads]` in edge order; output `[E, heads]` in edge order
pub fn row_attention_backward(
    csr: &Csr,
    (a_src, a_dst): (&[f32], &[f32]),
    (alpha, g): (&[f32], &[f32]),
    heads: usize,
    slope: f32,
) -> Vec<f32> {
    per_row_slots(csr, heads, |r, out| {
        let slots = csr.row(r);
        let (edges, sources) = (&csr.edge()[slots.clone()], &csr.other()[slots]);
        for h in 0..heads {
            let z = |k: usize| a_src[sources[k] as usize * heads + h] + a_dst[r * heads + h];
            let slope_at = |k: usize| if z(k) > 0.0 { 1.0 } else { slope };
            softmax_backward_slots(out, (heads, h), edges, (alpha, g), slope_at);
        }
    })
}

/// A 32-bit integer hash, two multiply-xorshift rounds (Wellons' `lowbias32`): the GPU
/// kernel's `mix`, step for step.
#[inline(always)]
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The 32 random bits of value `i` of the dropout mask of `seed`: `mix(mix(i ⊕ seed_lo) ⊕
/// seed_hi)`, known without the others — in parallel, in any order, and again in the backward
/// pass without a stored mask — and the same on the GPU (whose kernel computes it in 32-bit
/// lanes; on the CPU it vectorises to 8 values an AVX2 instruction, where a 64-bit generator's
/// multiplies do not: 1.65× faster per value).
#[inline(always)]
fn mask_bits(seed: u64, i: u32) -> u32 {
    mix(mix(i ^ seed as u32) ^ (seed >> 32) as u32)
}

/// The 32-bit threshold below which [`mask_bits`] keep a value with probability `keep`:
/// `⌊keep · 2³²⌋`, at most `2³² − 1` — the CPU's and the GPU's.
pub(crate) fn keep_threshold(keep: f64) -> u32 {
    (keep * 4_294_967_296.0).min(u32::MAX as f64) as u32
}

/// Values per parallel task of the element-wise kernels ([`dropout`], [`elu`]).
const CHUNK: usize = 1 << 14;

/// Inverted dropout of `x` with the mask of `seed`: value `i` is kept, as `x[i] · (1 / keep)`,
/// when its [`mask_bits`] fall below [`keep_threshold`], else it is 0 — the GPU kernel's
/// mask and values, bit for bit. The backward pass is the same map applied to the gradient.
/// `x` has at most `2³²` values (indices are 32-bit, as on the GPU).
pub fn dropout(x: &[f32], seed: u64, keep: f64) -> Vec<f32> {
    dropout_on(has_avx2(), x, seed, keep)
}

/// [`dropout`] with the chunks compiled for AVX2 or not. The output is written once, straight
/// into fresh memory: zeroing it first (`vec![0.0; n]`) was a serial `memset` of the whole
/// buffer, as long again as the parallel pass on a 10^5 × 32 input.
fn dropout_on(avx2: bool, x: &[f32], seed: u64, keep: f64) -> Vec<f32> {
    let threshold = keep_threshold(keep);
    let scale = (1.0 / keep) as f32;
    let mut out = Vec::with_capacity(x.len());
    out.spare_capacity_mut()[..x.len()]
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(chunk, (out, x))| {
            let first = (chunk * CHUNK) as u32;
            dropout_chunk_on(avx2, out, x, first, (seed, threshold, scale));
        });
    // SAFETY: the chunks cover the first `x.len()` values, each chunk of the output zipped with
    // the chunk of `x` of the same length, and `dropout_chunk` writes every value of its chunk.
    unsafe { out.set_len(x.len()) };
    out
}

/// [`dropout`] of one chunk, whose first value is value `first` of the mask: every value of
/// `out` (as long as `x`) is written.
#[inline(always)]
fn dropout_chunk(
    out: &mut [MaybeUninit<f32>],
    x: &[f32],
    first: u32,
    (seed, threshold, scale): (u64, u32, f32),
) {
    debug_assert_eq!(out.len(), x.len());
    for (k, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let bits = mask_bits(seed, first.wrapping_add(k as u32));
        // Branch-free ([`kept`]): a random keep/drop branch mispredicts about every other value.
        o.write(kept(v * scale, bits < threshold));
    }
}

on_avx2!(fn dropout_chunk_on = dropout_chunk(
    out: &mut [MaybeUninit<f32>],
    x: &[f32],
    first: u32,
    mask: (u64, u32, f32),
));

/// `eˣ − 1` for `x ≤ 0` (a positive `x` is taken as 0: [`elu`] selects `x` itself there),
/// within 2 ulp of libm's `expm1f`, branch-free so a loop of it vectorises (libm's
/// is a scalar call: 8 % of a GAT-Cora step). `x = k ln 2 + r` with `k` the nearest integer
/// (the `1.5 · 2²³` rounding trick, so plain SSE2 suffices) and `|r| ≤ ln 2 / 2`; `eʳ − 1` by
/// its Taylor series to `r⁷` (truncation below `10⁻⁸` relative); then
/// `eˣ − 1 = 2ᵏ (eʳ − 1) + (2ᵏ − 1)`, exact for `k = 0`, so small `|x|` keep their relative
/// precision. Below `x = −20` the result is `−1` to the last bit anyway, so `x` is clamped
/// there and `2ᵏ` stays a normal float.
#[inline(always)]
fn expm1_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split so that k · LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-20.0, 0.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = r + r
        * r
        * (0.5
            + r * (1.0 / 6.0
                + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0))))));
    // t's low mantissa bits hold k (two's complement, |k| ≤ 29).
    let k_int = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let two_k = f32::from_bits(((k_int + 127) as u32) << 23);
    two_k * p + (two_k - 1.0)
}

/// `y = x` for `x > 0`, `α (eˣ − 1)` otherwise (NaN stays NaN), in parallel.
pub fn elu(x: &[f32], alpha: f32) -> Vec<f32> {
    let avx2 = has_avx2();
    map_chunks(x, |out, x| elu_chunk_on(avx2, out, x, alpha))
}

/// [`elu`] of one chunk.
#[inline(always)]
fn elu_chunk(out: &mut [f32], x: &[f32], alpha: f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        let neg = alpha * expm1_nonpositive(v);
        *o = if v <= 0.0 { neg } else { v };
    }
}

on_avx2!(fn elu_chunk_on = elu_chunk(out: &mut [f32], x: &[f32], alpha: f32));

/// ELU's gradient from its output `y`: `g` where `y > 0`, else `g (y + α)`.
pub fn elu_backward(y: &[f32], g: &[f32], alpha: f32) -> Vec<f32> {
    let avx2 = has_avx2();
    map_chunk_pairs(y, g, |out, yg| elu_backward_chunk_on(avx2, out, yg, alpha))
}

/// [`elu_backward`] of one chunk.
#[inline(always)]
fn elu_backward_chunk(out: &mut [f32], (y, g): (&[f32], &[f32]), alpha: f32) {
    for (o, (&y, &g)) in out.iter_mut().zip(y.iter().zip(g)) {
        // Both sides computed, then selected: no branch on the sign (random in a network's
        // activations, so mispredicted about every other value).
        let neg = g * (y + alpha);
        *o = if y > 0.0 { g } else { neg };
    }
}

on_avx2!(fn elu_backward_chunk_on = elu_backward_chunk(
    out: &mut [f32],
    yg: (&[f32], &[f32]),
    alpha: f32,
));

/// `softplus(x) = ln(1 + eˣ)`, as `max(x, 0) + ln(1 + e^{−|x|})` (no overflow), in parallel.
pub fn softplus(x: &[f32]) -> Vec<f32> {
    map_chunks(x, |out, x| {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v.max(0.0) + (-v.abs()).exp().ln_1p();
        }
    })
}

/// Softplus's gradient from its input: `g σ(x)`, `σ(x) = 1 / (1 + e^{−x})` computed from
/// `e^{−|x|}` on either side of 0 (no overflow).
pub fn softplus_backward(x: &[f32], g: &[f32]) -> Vec<f32> {
    map_chunk_pairs(x, g, |out, (x, g)| {
        for (o, (&x, &g)) in out.iter_mut().zip(x.iter().zip(g)) {
            let e = (-x.abs()).exp();
            let sigmoid = if x >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            *o = g * sigmoid;
        }
    })
}

/// `y[r, j] += b[j]`: the bias added to every row in place, in parallel across rows.
///
/// # Shapes
/// - `y`: `[N, M]`, `b`: `[M]`
pub fn add_bias(y: &mut [f32], b: &[f32]) {
    let m = b.len().max(1);
    y.par_chunks_mut(grain(m) * m).for_each(|y| {
        for row in y.chunks_mut(m) {
            for (v, &c) in row.iter_mut().zip(b) {
                *v += c;
            }
        }
    });
}

/// An element-wise map of `x` in parallel, [`CHUNK`] values a task: `chunk(out, x)` fills
/// one chunk of the output from the same chunk of `x`.
fn map_chunks(x: &[f32], chunk: impl Fn(&mut [f32], &[f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(out, x)| chunk(out, x));
    out
}

/// [`map_chunks`] of two inputs of one length, chunk by chunk.
fn map_chunk_pairs(
    a: &[f32],
    b: &[f32],
    chunk: impl Fn(&mut [f32], (&[f32], &[f32])) + Sync,
) -> Vec<f32> {
    let mut out = vec![0.0f32; b.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(out, ab)| chunk(out, ab));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{pool, seeded_values};

    /// A graph with repeated edges, an empty row and a hub.
    fn edges() -> (Vec<u32>, Vec<u32>) {
        let mut src = vec![0, 1, 1, 3, 4, 4, 2];
        let mut dst = vec![1, 0, 0, 0, 3, 3, 4];
        for j in 0..40 {
            src.push(j % 5);
            dst.push(2);
        }
        (src, dst)
    }

    /// [`row_sums`] as a loop over the edges in id order (the order each CSR row keeps).
    fn brute_row_sums(
        (src, dst): (&[u32], &[u32]),
        n: usize,
        x: &[f32],
        f: usize,
        w: Option<&[f32]>,
        heads: usize,
        read: Read,
    ) -> Vec<f32> {
        let c = f / heads;
        let mut want = vec![0.0f32; n * f];
        for k in 0..src.len() {
            let i = if read == Read::Edge {
                k
            } else {
                src[k] as usize
            };
            for col in 0..f {
                let a = w.map_or(1.0, |w| w[k * heads + col / c]);
                want[dst[k] as usize * f + col] += a * x[i * f + col];
            }
        }
        want
    }

    #[test]
    fn row_sums_match_brute_force_bitwise_for_every_width_and_head_count() {
        let (small_src, small_dst) = edges();
        // 20,000 rows of 16 values (1.28 MB): inputs this large take the prefetching loops.
        let big_n = 20_000;
        let r = seeded_values(2 * 30_000, 5);
        let pick = |v: f32| (((v + 1.0) * 0.5 * big_n as f32) as u32).min(big_n as u32 - 1);
        let big_src: Vec<u32> = r[..30_000].iter().map(|&v| pick(v)).collect();
        let mut big_dst: Vec<u32> = r[30_000..].iter().map(|&v| pick(v)).collect();
        big_dst[..5_000].iter_mut().for_each(|d| *d = 7); // a hub
        // 20 slots a row: summed row by row, not by the flat loop.
        let (long_src, long_dst): (Vec<u32>, Vec<u32>) = (0..80).map(|k| (k % 7, k / 20)).unzip();
        let cases = [
            // (graph, nodes, heads, columns per head)
            ((&small_src, &small_dst), 6, 2, 3),
            ((&small_src, &small_dst), 6, 1, 1),
            ((&small_src, &small_dst), 6, 1, 7),
            ((&small_src, &small_dst), 6, 1, 8),
            ((&small_src, &small_dst), 6, 1, 9),
            ((&small_src, &small_dst), 6, 1, 16),
            ((&small_src, &small_dst), 6, 1, 40),
            ((&small_src, &small_dst), 6, 8, 8),
            ((&long_src, &long_dst), 7, 1, 7),
            ((&long_src, &long_dst), 7, 1, 24),
            ((&big_src, &big_dst), big_n, 1, 16),
            ((&big_src, &big_dst), big_n, 1, 21),
            ((&big_src, &big_dst), big_n, 4, 5),
        ];
        for ((src, dst), n, heads, c) in cases {
            let (e, f) = (src.len(), heads * c);
            let csr = Csr::group(dst, src, n);
            let w = seeded_values(e * heads, 2);
            for read in [Read::Other, Read::Edge] {
                let rows_x = if read == Read::Edge { e } else { n };
                let x = seeded_values(rows_x * f, 1 + read as u64);
                for w in [Some(&w[..]), None] {
                    let got = row_sums(&csr, n, &x, f, w, heads, read);
                    let want = brute_row_sums((src, dst), n, &x, f, w, heads, read);
                    let what = format!(
                        "{n} nodes, {heads} × {c}, {read:?}, weights {}",
                        w.is_some()
                    );
                    assert_eq!(got.len(), want.len(), "{what}");
                    for (a, b) in got.iter().zip(&want) {
                        assert_eq!(a.to_bits(), b.to_bits(), "{what}: {a} vs {b}");
                    }
                    if n == 6 {
                        assert!(got[5 * f..].iter().all(|&v| v == 0.0), "{what}: empty row");
                    }
                }
            }
        }
    }

    #[test]
    fn the_avx2_copies_compute_the_baselines_bits() {
        if !has_avx2() {
            eprintln!("skipped: this CPU has no AVX2, so only the baseline copies run here");
            return;
        }
        let x = seeded_values(10_007, 11);
        let each = |f: &dyn Fn(bool, &mut [f32])| {
            let (mut wide, mut base) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            f(true, &mut wide);
            f(false, &mut base);
            let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&wide), bits(&base));
        };
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let dropped = |avx2| bits(dropout_on(avx2, &x, 7, 0.5));
        assert_eq!(dropped(true), dropped(false));
        // Down to −25, past the clamp, and a NaN.
        let mut z: Vec<f32> = x.iter().map(|v| 25.0 * v - 12.0).collect();
        z[5] = f32::NAN;
        each(&|avx2, out| elu_chunk_on(avx2, out, &z, 1.5));
        each(&|avx2, out| elu_backward_chunk_on(avx2, out, (&z, &x), 1.5));
        let (src, dst) = edges();
        let csr = Csr::group(&dst, &src, 6);
        let w = seeded_values(src.len() * 2, 12);
        // Rows 0–5 (7.8 slots a row: the flat loop for one head), and the hub row 2 alone (40
        // slots: row by row); with and without prefetching.
        for (f, heads) in [(21, 1), (7, 1), (6, 2)] {
            for ((first, rows), prefetch) in [((0, 6), false), ((2, 1), true), ((0, 6), true)] {
                each(&|avx2, out| {
                    let run = &mut out[first * f..(first + rows) * f];
                    let slots_of = (&csr, csr.other(), csr.other_end());
                    sum_run_on(
                        avx2,
                        run,
                        (f, first),
                        &x,
                        slots_of,
                        (Some(&w), heads),
                        prefetch,
                    );
                });
            }
        }
    }

    #[test]
    fn edge_kernels_match_brute_force() {
        let (src, dst) = edges();
        let (n, e, heads, c) = (6, src.len(), 2, 2);
        let f = heads * c;
        let g = seeded_values(n * f, 3);
        let w = seeded_values(e * heads, 4);
        let rows = edge_rows(&dst, &g, f, Some(&w), heads);
        let dots = edge_dots(&g, &dst, &g, Some(&src), f, heads);
        for k in 0..e {
            for col in 0..f {
                let want = w[k * heads + col / c] * g[dst[k] as usize * f + col];
                assert!((rows[k * f + col] - want).abs() < 1e-6);
            }
            for h in 0..heads {
                let want: f32 = (h * c..(h + 1) * c)
                    .map(|col| g[dst[k] as usize * f + col] * g[src[k] as usize * f + col])
                    .sum();
                assert!((dots[k * heads + h] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn expm1_is_within_two_ulp_of_libm_on_the_negative_half() {
        let ulp = |v: f32| (f32::from_bits(v.abs().to_bits() + 1) - v.abs()).max(f32::MIN_POSITIVE);
        let mut x = -25.0f32;
        let mut worst = 0.0f32;
        while x <= 0.0 {
            let (got, want) = (expm1_nonpositive(x), x.exp_m1());
            worst = worst.max((got - want).abs() / ulp(want));
            // Denser near 0, where a plain `eˣ − 1` would lose its relative precision.
            x += if x < -1e-3 { 1e-3 } else { 1e-7 };
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        for tiny in [-1e-30f32, -1e-10, -f32::MIN_POSITIVE, 0.0, -0.0] {
            assert_eq!(expm1_nonpositive(tiny), tiny.exp_m1(), "{tiny}");
        }
        assert_eq!(expm1_nonpositive(-100.0), -1.0);
        assert!(elu(&[f32::NAN], 1.0)[0].is_nan());
        assert_eq!(elu(&[f32::NEG_INFINITY, 2.5], 1.0), [-1.0, 2.5]);
    }

    #[test]
    fn the_bias_is_added_to_every_row() {
        let (n, m) = (5_000, 7);
        let (y, b) = (seeded_values(n * m, 9), seeded_values(m, 10));
        let mut out = y.clone();
        add_bias(&mut out, &b);
        for (i, (&o, &v)) in out.iter().zip(&y).enumerate() {
            assert_eq!(o.to_bits(), (v + b[i % m]).to_bits(), "value {i}");
        }
    }

    #[test]
    fn dropout_keeps_the_asked_share_and_scales_the_rest() {
        let x = vec![1.0f32; 200_000];
        let out = dropout(&x, 42, 0.7);
        let kept = out.iter().filter(|&&v| v != 0.0).count() as f64 / x.len() as f64;
        assert!((kept - 0.7).abs() < 0.005, "kept {kept}");
        assert!(
            out.iter()
                .all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6)
        );
        // Another seed, another mask; the same seed, the same mask.
        assert_ne!(out, dropout(&x, 43, 0.7));
        assert_eq!(out, dropout(&x, 42, 0.7));
    }

    #[test]
    fn the_dropout_mask_is_the_documented_stream() {
        // Value i is kept when mix(mix(i ^ seed_lo) ^ seed_hi) < ⌊keep · 2³²⌋, written out
        // here with lowbias32's published constants — over several parallel tasks, so masks
        // (and every seeded run) stay what they are, and the GPU's kernel computes the same.
        let lowbias32 = |mut x: u32| {
            x ^= x >> 16;
            x = x.wrapping_mul(0x7feb352d);
            x ^= x >> 15;
            x = x.wrapping_mul(0x846ca68b);
            x ^ (x >> 16)
        };
        let (keep, seed) = (0.45, 0x0123_4567_89ab_cdef_u64);
        let threshold = (keep * 4_294_967_296.0f64) as u32;
        for len in [1, 2, 7, 3 * CHUNK + 5] {
            let x = seeded_values(len, len as u64);
            let out = dropout(&x, seed, keep);
            for (i, (&o, &v)) in out.iter().zip(&x).enumerate() {
                let bits = lowbias32(lowbias32(i as u32 ^ 0x89ab_cdef) ^ 0x0123_4567);
                let expected = if bits < threshold {
                    v * (1.0 / keep) as f32
                } else {
                    0.0
                };
                assert_eq!(o.to_bits(), expected.to_bits(), "value {i} of {len}");
            }
        }
        assert_eq!(keep_threshold(1.0), u32::MAX);
        assert_eq!(keep_threshold(0.5), 1 << 31);
    }

    #[test]
    fn results_are_bitwise_equal_for_any_thread_count() {
        // Enough rows (3000 × 64 values) that the work is split into many parallel tasks.
        let (n, e, f) = (3000, 30_000, 64);
        let r = seeded_values(2 * e, 6);
        let pick = |v: f32| ((v + 1.0) * 0.5 * n as f32) as u32 % n as u32;
        let (src, dst): (Vec<u32>, Vec<u32>) = (0..e).map(|k| (pick(r[k]), pick(r[e + k]))).unzip();
        let csr = Csr::group(&dst, &src, n);
        let x = seeded_values(n * f, 5);
        let w = seeded_values(e, 7);
        let run =
            |threads| pool(threads).install(|| row_sums(&csr, n, &x, f, Some(&w), 1, Read::Other));
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let one = bits(run(1));
        for threads in [2, 3, 8] {
            assert_eq!(one, bits(run(threads)), "{threads} threads");
        }
    }
}
