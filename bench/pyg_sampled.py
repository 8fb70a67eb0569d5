#!/usr/bin/env python3
"""PyG's neighbour-sampled GraphSAGE on exactly our graph: the PyG side of the sampled rows in
docs/results.md ("Graphs larger than full-batch").

The graph comes from `gnn export-data` (e.g. the stochastic block model `sbm-1e6-10-128`,
features row-normalised as `gnn train` uses them). The model is PyG's `GraphSAGE` with our
registry's `sage` protocol (2 layers of 64, mean aggregation, dropout 0.5, Adam lr 0.01, weight
decay 5e-4); batches come from `NeighborLoader` (shuffled training seeds, `--fanout`), which
needs `pyg-lib` or `torch-sparse`.

    gnn export-data --dataset sbm-1e6-10-128 --out /tmp/sbm.safetensors
    python bench/pyg_sampled.py --data /tmp/sbm.safetensors --epochs 3 --threads 1

Measures, per epoch: the sampler alone (one pass of the loader without the model: sampled
edges per second) and training (loader and model steps); then test accuracy with every
neighbour (`NeighborLoader(num_neighbors=[-1, -1])` over the test seeds). Prints JSON.
"""

import argparse
import json
import resource
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a node dataset from gnn export-data")
    p.add_argument("--fanout", default="15,10")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval", action="store_true", help="also the test accuracy (all neighbours)")
    p.add_argument("--json", help="write the result here too")
    return p.parse_args()


def main():
    args = parse()
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader
    from torch_geometric.nn import GraphSAGE

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t = load_file(args.data)
    data = Data(
        x=t["x"],
        edge_index=t["edge_index"].long(),
        y=t["y"].long(),
        num_nodes=t["x"].shape[0],
    )
    train_idx, test_idx = t["train_idx"].long(), t["test_idx"].long()
    fanouts = [int(k) for k in args.fanout.split(",")]
    try:
        loader = NeighborLoader(data, num_neighbors=fanouts, batch_size=args.batch_size,
                                input_nodes=train_idx, shuffle=True)
        next(iter(loader))
    except (ImportError, RuntimeError) as e:
        sys.exit(f"PyG's NeighborLoader cannot run here: {e}")
    classes = int(data.y.max()) + 1
    model = GraphSAGE(data.num_features, args.hidden, num_layers=len(fanouts),
                      out_channels=classes, dropout=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    sampler_s, sampled_edges, train_s = [], 0, []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        edges = 0
        for batch in loader:
            edges += batch.edge_index.shape[1]
        sampler_s.append(time.perf_counter() - t0)
        sampled_edges = edges
        model.train()
        t0 = time.perf_counter()
        for batch in loader:
            opt.zero_grad()
            out = model(batch.x, batch.edge_index)[: batch.batch_size]
            loss = F.cross_entropy(out, batch.y[: batch.batch_size])
            loss.backward()
            opt.step()
        train_s.append(time.perf_counter() - t0)
    result = {
        "threads": args.threads,
        "fanout": fanouts,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "sampled_edges_per_epoch": sampled_edges,
        "sampler_s_median": statistics.median(sampler_s),
        "sampled_edges_per_s": sampled_edges / statistics.median(sampler_s),
        "epoch_s_median": statistics.median(train_s),
        "epoch_s": train_s,
    }
    if args.eval:
        model.eval()
        full = NeighborLoader(data, num_neighbors=[-1] * len(fanouts),
                              batch_size=args.batch_size, input_nodes=test_idx)
        correct = 0
        with torch.no_grad():
            for batch in full:
                pred = model(batch.x, batch.edge_index)[: batch.batch_size].argmax(-1)
                correct += int((pred == batch.y[: batch.batch_size]).sum())
        result["test_accuracy"] = correct / len(test_idx)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
