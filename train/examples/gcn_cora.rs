//! Train a two-layer GCN on Cora with the library, as a user's own script would.
//!
//! `cargo run --release --example gcn_cora` (data from `$GNN_DATA_DIR`, else downloaded).

use gnn_datasets::{DataRoot, planetoid};
use gnn_models::models::GcnConfig;
use gnn_train::data::{NodeClassification, SplitKind};
use gnn_train::experiment::train_one;
use gnn_train::fit::FitConfig;
use gnn_train::threads::run_on_pool;
use gnn_train::{Backend, TrainError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The work runs on a worker of the compute pool (every core; `Some(n)` for n threads), so
    // each parallel operation of a step runs where it starts instead of waking a worker.
    Ok(run_on_pool(None, train)??)
}

fn train() -> Result<(), TrainError> {
    // Data: Planetoid's Cora, public split, features as stored.
    let cora = planetoid::load("cora", &DataRoot::resolve(None))?;
    println!(
        "Cora: {} nodes, {} edges",
        cora.num_nodes(),
        cora.edges.num_edges()
    );

    // Put it on a device: the backend is chosen at run time.
    let device = Backend::Flex.device()?;
    let data = NodeClassification::new(&cora, &device)?;

    // The paper's model and protocol: 16 hidden, dropout 0.5, Adam lr 0.01, 5e-4 weight decay
    // on the first layer, 200 epochs, weights of the best validation epoch.
    let model = GcnConfig::new(cora.num_features(), cora.num_classes);
    let run = train_one(
        &device,
        42,
        &data,
        &FitConfig::default(),
        |d| model.init(d),
        |epoch| {
            if epoch.epoch % 50 == 0 {
                println!("epoch {:3}  loss {:.4}", epoch.epoch, epoch.step_loss);
            }
        },
    )?;

    println!(
        "best epoch {}: val accuracy {:.3}, test accuracy {:.3}",
        run.best_epoch,
        run.metric(SplitKind::Val),
        run.metric(SplitKind::Test)
    );
    Ok(())
}
