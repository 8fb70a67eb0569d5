#!/usr/bin/env python3
"""Weights between gnn and PyTorch Geometric, checked on PyG's side.

check: load a file `gnn export` wrote into the PyG model of the same configuration with
`load_state_dict(strict=True)`, run it on the same data, and compare its class
probabilities with `gnn predict`'s CSV:

    gnn export --model runs/gcn --out gcn.safetensors
    gnn predict --model runs/gcn --out preds.csv
    python bench/pyg_interop.py check --weights gcn.safetensors --predictions preds.csv \
        --dataset cora --root ../shared/data

train: train the PyG model of a configuration (the paper protocol of PyG's examples) and
save its state_dict as safetensors, for `gnn import --from-pyg`:

    python bench/pyg_interop.py train --model gcn --dataset cora --root ../shared/data \
        --out pyg_gcn.safetensors

Planetoid datasets (gcn, gat); for rgcn pass --graph-json from `gnn-bench export-graph`.
Needs torch, torch_geometric and safetensors.
"""
import argparse
import csv
import json
import os
import shutil
import sys
import tempfile

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}


def planetoid(root, name, torch_geometric):
    import torch_geometric.transforms as T
    from torch_geometric.datasets import Planetoid

    work = tempfile.mkdtemp(prefix="pyg-interop-")
    try:
        raw = os.path.join(work, PLANETOID[name], "raw")
        os.makedirs(raw)
        for suffix in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"]:
            f = f"ind.{name}.{suffix}"
            shutil.copy(os.path.join(root, "planetoid", f), os.path.join(raw, f))
        return Planetoid(work, PLANETOID[name], transform=T.NormalizeFeatures())[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(config, torch, F):
    """The PyG model of a gnn model card's `model` entry, and how to call it on data."""
    from torch_geometric.nn import GATConv, GCNConv, RGCNConv

    kind = config["kind"]
    if kind == "gcn":
        class GCN(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = GCNConv(config["d_input"], config["d_hidden"])
                self.conv2 = GCNConv(config["d_hidden"], config["d_output"])

            def forward(self, x, edge_index):
                x = F.dropout(x, p=config["dropout"], training=self.training)
                x = self.conv1(x, edge_index).relu()
                x = F.dropout(x, p=config["dropout"], training=self.training)
                return self.conv2(x, edge_index)

        return GCN()
    if kind == "gat":
        h, heads, p = config["d_hidden"], config["heads"], config["dropout"]

        class GAT(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = GATConv(config["d_input"], h, heads=heads, dropout=p)
                self.conv2 = GATConv(h * heads, config["d_output"],
                                     heads=config["out_heads"], concat=False, dropout=p)

            def forward(self, x, edge_index):
                x = F.dropout(x, p=p, training=self.training)
                x = F.elu(self.conv1(x, edge_index))
                x = F.dropout(x, p=p, training=self.training)
                return self.conv2(x, edge_index)

        return GAT()
    if kind == "rgcn":
        loops = config.get("self_loop_relation", False)
        r = config["num_relations"] + (1 if loops else 0)
        opts = dict(num_bases=config.get("num_bases"), num_blocks=config.get("num_blocks"),
                    aggr={"sum": "add"}.get(config.get("aggr", "mean"), "mean"),
                    root_weight=not loops, bias=not loops)
        if config.get("input_projection") or config.get("norm", "relation") != "relation":
            sys.exit("rgcn: input projections and per-node normalisation have no PyG equivalent here")

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = RGCNConv(config["d_input"], config["d_hidden"], r, **opts)
                self.conv2 = RGCNConv(config["d_hidden"], config["d_output"], r, **opts)

            def forward(self, x, edge_index, edge_type):
                if loops:
                    n = config["d_input"] if x is None else x.shape[0]
                    idx = torch.arange(n)
                    edge_index = torch.cat([edge_index, torch.stack([idx, idx])], 1)
                    edge_type = torch.cat([edge_type, torch.full((n,), r - 1)])
                x = F.relu(self.conv1(x, edge_index, edge_type))
                return self.conv2(x, edge_index, edge_type)

        return Net()
    sys.exit(f"unknown model kind {kind}")


def run(model, config, args, torch, torch_geometric):
    """Eval-mode logits on the dataset."""
    model.eval()
    with torch.no_grad():
        if config["kind"] == "rgcn":
            with open(args.graph_json) as f:
                g = json.load(f)
            ei = torch.tensor([g["src"], g["dst"]], dtype=torch.long)
            et = torch.tensor(g["edge_type"], dtype=torch.long)
            return model(None, ei, et)
        data = planetoid(args.root, args.dataset, torch_geometric)
        return model(data.x, data.edge_index)


def check(args):
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(args.weights, "pt") as f:
        config = json.loads(f.metadata()["gnn.model"])
    model = build(config, torch, F)
    model.load_state_dict(load_file(args.weights), strict=True)
    probs = run(model, config, args, torch, torch_geometric).softmax(1)
    with open(args.predictions) as f:
        rows = list(csv.DictReader(f))
    c = probs.shape[1]
    ours = torch.tensor([[float(r[f"p_{k}"]) for k in range(c)] for r in rows])
    diff = float((ours - probs).abs().max())
    agree = float((ours.argmax(1) == probs.argmax(1)).float().mean())
    print(json.dumps({"model": config["kind"], "strict_load": True, "nodes": len(rows),
                      "max_abs_prob_diff": diff, "argmax_agreement": agree}))
    if diff > args.tolerance:
        sys.exit(f"probabilities differ by {diff} > {args.tolerance}")


def train(args):
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from safetensors.torch import save_file

    torch.manual_seed(args.seed)
    data = planetoid(args.root, args.dataset, torch_geometric)
    c = int(data.y.max()) + 1
    if args.model == "gcn":
        config = dict(kind="gcn", d_input=data.num_features, d_output=c, d_hidden=16, dropout=0.5)
        lr, wd, epochs = 0.01, 5e-4, 200
    else:
        config = dict(kind="gat", d_input=data.num_features, d_output=c, d_hidden=8, heads=8,
                      out_heads=1, dropout=0.6)
        lr, wd, epochs = 0.005, 5e-4, 200
    model = build(config, torch, F)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(data.x, data.edge_index)[data.train_mask],
                        data.y[data.train_mask]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(data.x, data.edge_index).argmax(1)
    acc = {k: float((pred[m] == data.y[m]).float().mean())
           for k, m in [("train", data.train_mask), ("val", data.val_mask), ("test", data.test_mask)]}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)
    print(json.dumps({"model": args.model, "dataset": args.dataset, "accuracy": acc,
                      "params": sorted(model.state_dict().keys())}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--weights", required=True)
    c.add_argument("--predictions", required=True)
    c.add_argument("--dataset", default="cora")
    c.add_argument("--root", default="../shared/data")
    c.add_argument("--graph-json")
    c.add_argument("--tolerance", type=float, default=1e-5)
    t = sub.add_parser("train")
    t.add_argument("--model", choices=["gcn", "gat"], default="gcn")
    t.add_argument("--dataset", default="cora")
    t.add_argument("--root", default="../shared/data")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True)
    args = p.parse_args()
    {"check": check, "train": train}[args.cmd](args)


if __name__ == "__main__":
    main()
