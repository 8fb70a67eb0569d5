//! Bitwise repeatability at a fixed thread count, full-batch, sampled, and link prediction
//! with sampled training graphs: the same run twice on a pool of 1 and of 2 threads gives
//! the same losses to the bit. Alone in its binary:
//! Burn's flex RNG is process-wide, so a test running beside it would draw from it too.

use gnn_datasets::kg;
use gnn_models::registry::Registry;
use gnn_tests::{data_root, nations_sampled_spec, neighbor_sampling, run_generated};
use gnn_train::datasets::AnyDataset;
use gnn_train::experiment::{RunReport, run_experiment};

#[test]
fn runs_repeat_bitwise_at_a_fixed_thread_count() {
    let losses = |r: &RunReport| {
        r.history
            .iter()
            .map(|e| e.step_loss.to_bits())
            .collect::<Vec<_>>()
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for (model, dataset, sampler) in [
            ("gcn", "er-20000-10-64", None),
            ("sage", "sbm-4000-10-64", Some(neighbor_sampling("10,10"))),
        ] {
            let go = || pool.install(|| run_generated(model, dataset, sampler.clone(), 3));
            let (a, b) = (go(), go());
            assert_eq!(losses(&a), losses(&b), "{model}, {threads} threads");
            assert_eq!(a.test_metric.to_bits(), b.test_metric.to_bits());
        }
        let nations = AnyDataset::Knowledge(kg::load("nations", &data_root()).unwrap());
        let spec = nations_sampled_spec();
        let go = || {
            pool.install(|| {
                run_experiment(&Registry::builtin(), &spec, &nations, |_, _| {})
                    .unwrap()
                    .0
                    .runs
                    .remove(0)
            })
        };
        let (a, b) = (go(), go());
        assert_eq!(losses(&a), losses(&b), "rgcn-distmult, {threads} threads");
    }
}
