#!/usr/bin/env python3
"""PyG's MPNN on exactly the graphs and split gnn trains on: QM9 (or any graph regression
dataset) side by side.

    gnn export-data --dataset qm9 --target 0 --seed 0 --out qm9_t0.safetensors
    python bench/pyg_qm9.py --data qm9_t0.safetensors --dim 32 --epochs 30 \
        --batch-size 128 --lr 0.001 --threads 2 --json pyg_qm9.json
    gnn train --model mpnn --dataset qm9 --target 0 --seed 0 --hidden 32 --epochs 30 \
        --batch-size 128 --lr 0.001 --json gnn_qm9.json

The model is PyG's examples/qm9_nn_conv.py: lin0 -> 3 x (NNConv(aggr=mean) -> ReLU -> GRU)
-> Set2Set(3 steps) -> lin1 -> ReLU -> lin2, with the edge network
Linear(D, 2*dim) -> ReLU -> Linear(2*dim, dim*dim). The protocol is gnn's: targets normalised
with the mean and (population) standard deviation of the training graphs, L1 loss, Adam at a
constant learning rate, each epoch one shuffled pass over the training graphs followed by an
evaluation of train, validation and test; the reported test MAE (in the target's units) is the
one at the epoch with the lowest validation MAE (first such epoch). Time per epoch covers
the training pass and the evaluation, as gnn's does.

Needs torch, torch_geometric and safetensors (set up as for pyg_bench.py --setup-pyg).
"""
import argparse
import json
import statistics
import sys
import time


def load(path, torch):
    from safetensors.numpy import load_file
    from torch_geometric.data import Data

    t = load_file(path)
    x = torch.from_numpy(t["x"])
    ei = torch.from_numpy(t["edge_index"]).long()
    ea = torch.from_numpy(t["edge_attr"]) if "edge_attr" in t else torch.ones(ei.shape[1], 1)
    y = torch.from_numpy(t["y"])
    node_ptr = t["node_ptr"].astype("int64")
    edge_ptr = t["edge_ptr"].astype("int64")
    graphs = []
    for g in range(len(node_ptr) - 1):
        a, b = node_ptr[g], node_ptr[g + 1]
        c, d = edge_ptr[g], edge_ptr[g + 1]
        graphs.append(Data(x=x[a:b], edge_index=ei[:, c:d], edge_attr=ea[c:d], y=y[g:g + 1]))
    split = {k: [int(i) for i in t[f"{k}_idx"]] for k in ["train", "val", "test"]}
    return graphs, split


def model(num_features, edge_dim, dim, outputs, torch):
    import torch.nn.functional as F
    from torch.nn import GRU, Linear, ReLU, Sequential
    from torch_geometric.nn import NNConv, Set2Set

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin0 = Linear(num_features, dim)
            nn = Sequential(Linear(edge_dim, 2 * dim), ReLU(), Linear(2 * dim, dim * dim))
            self.conv = NNConv(dim, dim, nn, aggr="mean")
            self.gru = GRU(dim, dim)
            self.set2set = Set2Set(dim, processing_steps=3)
            self.lin1 = Linear(2 * dim, dim)
            self.lin2 = Linear(dim, outputs)

        def forward(self, data):
            out = F.relu(self.lin0(data.x))
            h = out.unsqueeze(0)
            for _ in range(3):
                m = F.relu(self.conv(out, data.edge_index, data.edge_attr))
                out, h = self.gru(m.unsqueeze(0), h)
                out = out.squeeze(0)
            out = self.set2set(out, data.batch)
            out = F.relu(self.lin1(out))
            return self.lin2(out)

    return Net()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="file from `gnn export-data`")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()

    import torch
    import torch_geometric
    from torch_geometric.loader import DataLoader

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    graphs, split = load(args.data, torch)
    train = [graphs[i] for i in split["train"]]
    y_train = torch.cat([g.y for g in train], 0)
    mean = y_train.mean(0, keepdim=True)
    std = y_train.std(0, unbiased=False, keepdim=True)
    std[std == 0] = 1.0
    for g in graphs:
        g.y = (g.y - mean) / std
    loaders = {
        k: DataLoader([graphs[i] for i in split[k]], batch_size=512, shuffle=False)
        for k in ["train", "val", "test"]
    }
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    net = model(graphs[0].x.shape[1], graphs[0].edge_attr.shape[1], args.dim,
                graphs[0].y.shape[1], torch)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    scale = std.squeeze(0)

    def mae(loader):
        net.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for data in loader:
                err = ((net(data) - data.y).abs() * scale).mean(1)
                total += float(err.sum())
                n += data.num_graphs
        return total / max(n, 1)

    best = None
    times = []
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        for data in train_loader:
            opt.zero_grad()
            loss = (net(data) - data.y).abs().mean()
            loss.backward()
            opt.step()
        scores = {k: mae(loader) for k, loader in loaders.items()}
        times.append(1000 * (time.perf_counter() - t0))
        history.append(scores)
        if best is None or scores["val"] < best[1]["val"]:
            best = (epoch, scores)
        print(f"epoch {epoch}: train {scores['train']:.4f} val {scores['val']:.4f} "
              f"test {scores['test']:.4f} ({times[-1]:.0f} ms)", file=sys.stderr)
    out = {
        "library": "pyg",
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "threads": args.threads,
        "dim": args.dim,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "best_epoch": best[0],
        "test_mae": best[1]["test"],
        "val_mae": best[1]["val"],
        "epoch_ms_median": statistics.median(times),
        "graphs": {k: len(v) for k, v in split.items()},
    }
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
