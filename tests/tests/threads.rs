//! `run_on_pool` builds the process-wide pool, so it is tested in a process of its own.

use gnn_train::threads::run_on_pool;

#[test]
fn work_runs_on_a_worker_of_the_global_pool_built_once() {
    let (index, threads) = run_on_pool(Some(2), || {
        (rayon::current_thread_index(), rayon::current_num_threads())
    })
    .unwrap();
    assert!(index.is_some(), "the work ran outside the pool");
    assert_eq!(threads, 2);
    assert!(
        run_on_pool(Some(1), || ()).is_err(),
        "the global pool was built twice"
    );
}
