//! DistMult alone (Yang et al. 2015) on a knowledge graph, written with the library's pieces:
//! the archive loader, head-or-tail corruption, the DistMult model, and the filtered ranking
//! of every test triple against all entities in both directions (MRR, Hits@1/3/10, ties
//! ranked by their mean).
//!
//! `cargo run --release -p gnn-train --example kg_distmult [-- umls|nations|kinship [EPOCHS]]`
//!
//! Full-batch training: every training triple and one corruption of it per epoch, binary
//! cross-entropy on the scores, Adam (lr 0.01), 100-wide embeddings initialised N(0, 0.1²).

use std::error::Error;

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Distribution, Int, Tensor};
use gnn_datasets::DataRoot;
use gnn_datasets::kg::{self, KnownFacts, Triple};
use gnn_datasets::synthetic::SplitMix64;
use gnn_models::layers::{DistMultKge, DistMultKgeConfig};
use gnn_train::Backend;
use gnn_train::link_metrics::{RankingMetrics, TieRule, filtered_rank};

/// Head, relation and tail id tensors of `triples`.
fn columns(triples: &[Triple], device: &Device) -> [Tensor<1, Int>; 3] {
    let col = |f: fn(&Triple) -> u32| {
        let ids: Vec<i64> = triples.iter().map(|t| f(t) as i64).collect();
        Tensor::<1, Int>::from_data(ids.as_slice(), device)
    };
    [col(|t| t.head), col(|t| t.relation), col(|t| t.tail)]
}

/// Filtered ranks of the test triples' tails and heads against every entity.
fn ranks(model: &DistMultKge, test: &[Triple], facts: &KnownFacts) -> Vec<f64> {
    let e = model.node_emb.val();
    let device = e.device();
    let mut out = Vec::with_capacity(2 * test.len());
    for chunk in test.chunks(256) {
        let [h, r, t] = columns(chunk, &device);
        // (h, r, ?) and, DistMult being symmetric, (?, r, t) as (t, r, ?).
        for (queries, tails) in [(h, true), (t, false)] {
            let scores = model
                .decoder
                .score_all(e.clone().select(0, queries), r.clone(), e.clone())
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("f32 scores");
            let n = e.dims()[0];
            for (k, triple) in chunk.iter().enumerate() {
                let row = &scores[k * n..(k + 1) * n];
                let (target, known) = if tails {
                    (triple.tail, facts.tails(triple.head, triple.relation))
                } else {
                    (triple.head, facts.heads(triple.relation, triple.tail))
                };
                out.push(filtered_rank(row, target as usize, known, TieRule::Mean));
            }
        }
    }
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("umls", String::as_str);
    let epochs: usize = args.get(1).map_or(Ok(300), |a| a.parse())?;
    let g = kg::load(name, &DataRoot::resolve(None))?;
    let (n, r) = (g.num_entities(), g.num_relations());
    let device = Backend::Flex.device()?;
    let ad = device.clone().autodiff();
    ad.seed(0);
    let mut model = DistMultKgeConfig::new(n, r, 100).init(&ad);
    let small = |rows| {
        Param::from_tensor(Tensor::random(
            [rows, 100],
            Distribution::Normal(0.0, 0.1),
            &ad,
        ))
    };
    model.node_emb = small(n);
    model.decoder.rel_emb = small(r);
    let train_facts = KnownFacts::new(&[&g.train]);
    let all_facts = KnownFacts::new(&[&g.train, &g.valid, &g.test]);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = SplitMix64::new(0);
    let [ph, pr, pt] = columns(&g.train, &ad);
    for epoch in 1..=epochs {
        let negatives = kg::corrupt(&g.train, 1, n, Some(&train_facts), &mut rng);
        let [nh, nr, nt] = columns(&negatives, &ad);
        let pos = model.score(ph.clone(), pr.clone(), pt.clone());
        let neg = model.score(nh, nr, nt);
        let loss = log_sigmoid(pos).mean().neg() + log_sigmoid(neg.neg()).mean().neg();
        if epoch % 100 == 0 {
            let value = loss
                .clone()
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("loss")[0];
            println!("epoch {epoch}: loss {value:.4}");
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let trained = model.valid();
    let m = RankingMetrics::of(&ranks(&trained, &g.test, &all_facts));
    // A random ranking: the expected reciprocal rank of a uniform position among n.
    let random = (1..=n).map(|k| 1.0 / k as f64).sum::<f64>() / n as f64;
    println!(
        "DistMult on {name} ({n} entities, {r} relations), {} filtered test queries: MRR {:.3} \
         (random ranking {random:.3}), Hits@1 {:.3}, Hits@3 {:.3}, Hits@10 {:.3}",
        m.count, m.mrr, m.hits1, m.hits3, m.hits10
    );
    Ok(())
}
