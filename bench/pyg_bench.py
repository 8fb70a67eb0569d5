#!/usr/bin/env python3
"""PyTorch Geometric reference for gnn-bench: the same model, data and hyperparameters,
timed the same way, printed as one JSON line in gnn-bench's worker format.

    python bench/pyg_bench.py --model gcn --dataset cora --root ../shared/data \
        --threads 1 --warmup 10 --steps 100

Measures, after `--warmup` untimed steps: the training step (forward + backward + Adam step,
dropout active, loss read back as a float) and eval-mode inference (forward under no_grad),
each `--steps` times; and the process's peak resident memory (ru_maxrss).
"""
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="gcn", choices=["gcn", "gat", "rgcn", "mpnn"])
    p.add_argument("--dataset", default="cora")
    p.add_argument("--root", required=True, help="data root holding planetoid/ind.<name>.*")
    p.add_argument("--graph-json", help="processed graph exported by gnn-bench (entities)")
    p.add_argument("--graph-data", help="graph dataset from `gnn export-data` (mpnn)")
    p.add_argument("--node-data", help="node dataset written by gnn-bench (synthetic graphs)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import torch.nn.functional as F
    import torch_geometric
    import torch_geometric.transforms as T
    from torch_geometric.datasets import Planetoid
    from torch_geometric.nn import GATConv, GCNConv, RGCNConv

    if args.model == "rgcn":
        return rgcn(args, torch, F, torch_geometric, RGCNConv)
    if args.model == "mpnn":
        return mpnn(args, torch, F, torch_geometric)

    if args.node_data:
        # A graph gnn-bench generated (synthetic): the same nodes, edges, features and split.
        from safetensors.numpy import load_file
        from torch_geometric.data import Data

        t = load_file(args.node_data)
        n = t["x"].shape[0]
        data = Data(x=torch.from_numpy(t["x"]),
                    edge_index=torch.from_numpy(t["edge_index"]).long(),
                    y=torch.from_numpy(t["y"]).long())
        data.train_mask = torch.zeros(n, dtype=torch.bool)
        data.train_mask[torch.from_numpy(t["train_idx"]).long()] = True
    else:
        # PyG's Planetoid reads <root>/<Name>/raw/ind.<name>.*; copy the raw files there.
        name = PLANETOID[args.dataset]
        work = tempfile.mkdtemp(prefix="pyg-bench-")
        try:
            raw = os.path.join(work, name, "raw")
            os.makedirs(raw)
            for suffix in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"]:
                f = f"ind.{args.dataset}.{suffix}"
                shutil.copy(os.path.join(args.root, "planetoid", f), os.path.join(raw, f))
            data = Planetoid(work, name, transform=T.NormalizeFeatures())[0]
        finally:
            shutil.rmtree(work, ignore_errors=True)

    class GCN(torch.nn.Module):
        # examples/gcn.py of PyG: cached normalisation, dropout 0.5 on input and hidden.
        def __init__(self, fin, fout):
            super().__init__()
            self.conv1 = GCNConv(fin, 16, cached=True)
            self.conv2 = GCNConv(16, fout, cached=True)

        def forward(self, x, edge_index):
            x = F.dropout(x, p=0.5, training=self.training)
            x = self.conv1(x, edge_index).relu()
            x = F.dropout(x, p=0.5, training=self.training)
            return self.conv2(x, edge_index)

    class GAT(torch.nn.Module):
        # examples/gat.py of PyG: 8 heads x 8 hidden, ELU, dropout 0.6 everywhere.
        def __init__(self, fin, fout):
            super().__init__()
            self.conv1 = GATConv(fin, 8, heads=8, dropout=0.6)
            self.conv2 = GATConv(64, fout, heads=1, concat=False, dropout=0.6)

        def forward(self, x, edge_index):
            x = F.dropout(x, p=0.6, training=self.training)
            x = F.elu(self.conv1(x, edge_index))
            x = F.dropout(x, p=0.6, training=self.training)
            return self.conv2(x, edge_index)

    num_classes = int(data.y.max()) + 1
    if args.model == "gcn":
        model = GCN(data.num_features, num_classes)
        optimizer = torch.optim.Adam(
            [dict(params=model.conv1.parameters(), weight_decay=5e-4),
             dict(params=model.conv2.parameters(), weight_decay=0)],
            lr=0.01,
        )
    else:
        model = GAT(data.num_features, num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)

    def train_step():
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        loss.backward()
        optimizer.step()
        return float(loss)

    @torch.no_grad()
    def inference():
        model.eval()
        out = model(data.x, data.edge_index)
        return float(out[0, 0])

    report(args, torch, torch_geometric, train_step, inference)


def report(args, torch, torch_geometric, train_step, inference):
    """Warm up, time the steps, print the JSON line."""
    for _ in range(args.warmup):
        train_step()
        inference()
    train_ms, infer_ms = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        train_step()
        train_ms.append((time.perf_counter() - t0) * 1e3)
    for _ in range(args.steps):
        t0 = time.perf_counter()
        inference()
        infer_ms.append((time.perf_counter() - t0) * 1e3)

    print(json.dumps({
        "implementation": "pyg",
        "model": args.model,
        "dataset": args.dataset,
        "backend": "torch-cpu",
        "threads": torch.get_num_threads(),
        "train_ms": train_ms,
        "infer_ms": infer_ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "versions": {
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "python": sys.version.split()[0],
        },
    }))


def rgcn(args, torch, F, torch_geometric, RGCNConv):
    """PyG's examples/rgcn.py model on the graph gnn-bench exported (same nodes, edges,
    relations and split), with the R-GCN paper's per-dataset settings."""
    with open(args.graph_json) as f:
        g = json.load(f)
    edge_index = torch.tensor([g["src"], g["dst"]], dtype=torch.long)
    edge_type = torch.tensor(g["edge_type"], dtype=torch.long)
    train_idx = torch.tensor(g["train_idx"], dtype=torch.long)
    train_y = torch.tensor(g["train_y"], dtype=torch.long)
    n, r, c = g["num_nodes"], g["num_relations"], g["num_classes"]
    bases, weight_decay, hidden = {
        "mutag": (30, 5e-4, 16), "bgs": (40, 5e-4, 16), "am": (40, 5e-4, 10),
    }.get(args.dataset, (None, 0.0, 16))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = RGCNConv(n, hidden, r, num_bases=bases)
            self.conv2 = RGCNConv(hidden, c, r, num_bases=bases)

        def forward(self):
            x = F.relu(self.conv1(None, edge_index, edge_type))
            return self.conv2(x, edge_index, edge_type)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=weight_decay)

    def train_step():
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model()[train_idx], train_y)
        loss.backward()
        optimizer.step()
        return float(loss)

    @torch.no_grad()
    def inference():
        model.eval()
        return float(model()[0, 0])

    report(args, torch, torch_geometric, train_step, inference)


def mpnn(args, torch, F, torch_geometric):
    """PyG's examples/qm9_nn_conv.py model (dim 64, mean NNConv, GRU, Set2Set) on the graphs
    and split gnn-bench exported, with gnn train's defaults (batch 32, Adam 1e-3). A timed step
    is one epoch over the training graphs; inference one pass over every graph."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pyg_qm9 import load, model as build
    from torch_geometric.loader import DataLoader

    graphs, split = load(args.graph_data, torch)
    classification = graphs[0].y.dtype != torch.float32 or args.dataset.startswith("tu-")
    if classification:
        for g in graphs:
            g.y = g.y.view(-1).long()
        outputs = int(max(int(g.y) for g in graphs)) + 1
    else:
        outputs = graphs[0].y.shape[1]
    train = DataLoader([graphs[i] for i in split["train"]], batch_size=32, shuffle=True)
    every = DataLoader(graphs, batch_size=512, shuffle=False)
    net = build(graphs[0].x.shape[1], graphs[0].edge_attr.shape[1], 64, outputs, torch)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)

    def train_step():
        net.train()
        for data in train:
            optimizer.zero_grad()
            out = net(data)
            if classification:
                loss = F.cross_entropy(out, data.y)
            else:
                loss = (out - data.y).abs().mean()
            loss.backward()
            optimizer.step()
            float(loss)

    @torch.no_grad()
    def inference():
        net.eval()
        for data in every:
            float(net(data)[0, 0])

    report(args, torch, torch_geometric, train_step, inference)


if __name__ == "__main__":
    main()
