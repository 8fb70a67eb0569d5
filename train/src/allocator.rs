//! [`keep_freed_buffers`]: the allocator setting the `gnn` program (and `gnn-bench`) start with.

/// Tells glibc's allocator to keep freed memory for reuse instead of handing large blocks back
/// to the system: Burn's CPU kernels allocate and free buffers of tens of megabytes every op,
/// and glibc serves each from a fresh `mmap` (then `munmap`), so every op's first touch of its
/// output page-faults. Measured on a sampled SAGE epoch of `sbm-1e6-10-128` (`gnn-bench
/// sampled-worker --threads-one 1`): 58 s → 45 s an epoch, system time 24 s → 2 s; peak memory
/// +10 %. (mimalloc as the global allocator gave the same 45 s, as a C dependency.)
///
/// One arena for every thread: glibc gives each further thread an arena of its own, whose heaps
/// hold at most 64 MiB, so a larger buffer allocated off the main thread is `mmap`ed and unmapped
/// whatever the threshold — and the programs run their work on a compute thread
/// ([`run_on_pool`](crate::threads::run_on_pool)). R-GCN + DistMult on FB15k-237 (three epochs
/// and one evaluation, two threads) took 12.5 million page faults and 35 s of system time on a
/// compute thread with per-thread arenas, 1.8 million and 20 s with one (1.4 million and 18 s
/// on the main thread).
///
/// Process-wide: call it first thing in a program, not from a library. Returns whether every
/// setting was accepted; a no-op returning `false` where the allocator is not glibc's.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; it is called before other threads
        // allocate (the program's first statement).
        unsafe {
            // -1: never trim (a threshold of `i32::MAX`, 2 GiB, still let a free top of the
            // heap beyond it go back, and R-GCN + DistMult on FB15k-237 swings its heap by ~2.5
            // GiB within an epoch: 4.3 million page faults, half the process time in the kernel).
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX) == 1;
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, -1) == 1;
            let arenas = libc::mallopt(libc::M_ARENA_MAX, 1) == 1;
            mmap && trim && arenas
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
