//! [`run_on_pool`]: the process's compute threads, and running a program's work on one of them.

/// Stack of each compute thread: the program's work runs on one of them instead of the main
/// thread (8 MiB on Linux), so they get at least as much (address space; pages are touched
/// only when used).
const STACK: usize = 16 << 20;

/// Builds rayon's global pool — `threads` workers, or rayon's default (`$RAYON_NUM_THREADS`,
/// else every core) when `None` (and, as rayon reads it, for `Some(0)`: a program that means
/// 0 as an error checks it first, as `gnn --threads 0` does) — and runs `work` on one of its workers, returning its result
/// (a panic in `work` resumes on the caller).
///
/// Why on a worker: a parallel operation started outside the pool hands its job to a worker
/// and puts the caller to sleep until it is done — a wake-up and two context switches per
/// operation, whatever its size. A training step runs on the order of a hundred (Burn's flex
/// operations and the fused kernels, most of them small): GAT on Cora at one thread switched
/// context 56 times an epoch and spent 13 % of the process in the kernel. Started on a worker,
/// an operation runs in place and the other workers steal its parts; results do not change
/// (the split of the work depends on the thread count, not on the thread that starts it).
///
/// Process-wide, once: call it from a program's `main`, not from a library, after
/// [`keep_freed_buffers`](crate::allocator::keep_freed_buffers) — off the main thread glibc
/// would otherwise map and unmap every buffer over 64 MiB.
pub fn run_on_pool<R: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(STACK);
    if let Some(n) = threads {
        pool = pool.num_threads(n);
    }
    pool.build_global()?;
    Ok(rayon::scope(|_| work()))
}
