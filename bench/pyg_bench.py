#!/usr/bin/env python3
"""PyTorch Geometric reference for gnn-bench: the same model, data and hyperparameters,
timed the same way, printed as one JSON line in gnn-bench's worker format.

gnn-bench calls it with the model's PyG reference (`--reference`, JSON from the model's spec:
`ModelSpec::pyg_reference`) and the data exactly as gnn-rs prepared it (`--node-data` or
`--graph-data`); the script knows builders (a stack of convolutions; PyG's BasicGNN shape
with norms and jumping knowledge; APPNP; PyG's R-GCN and edge-network MPNN examples), never
model names, so a new model whose spec describes a stack needs no change here:

    python bench/pyg_bench.py --model gcn --dataset cora --node-data cora.safetensors \
        --reference '{"builder": "stack", "convs": [...], ...}' --threads 1

Measures, after `--warmup` untimed steps: the training step (forward + backward + Adam step,
dropout active, loss read back as a float) and eval-mode inference (forward under no_grad),
each `--steps` times; and the process's peak resident memory (ru_maxrss), and on a GPU
(`--device cuda`, node models) the peak memory torch allocated there. Every timed step ends by
reading a value back to the host, so GPU work is finished when the clock stops.
"""
import argparse
import json
import os
import resource
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="the model's name (a label in the output)")
    p.add_argument("--dataset", required=True, help="the dataset's name (a label)")
    p.add_argument("--reference", required=True,
                   help="JSON: the PyG model, as the model's spec describes it (builder stack, "
                        "basic, appnp, relational or edge-conditioned)")
    p.add_argument("--node-data", help="node dataset written by gnn-bench (stack, relational)")
    p.add_argument("--graph-data", help="graph dataset from `gnn export-data` (edge-conditioned)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device: cpu, or cuda for node models")
    args = p.parse_args()
    ref = json.loads(args.reference)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import torch_geometric

    builders = {"stack": stack, "basic": basic, "appnp": appnp, "relational": relational,
                "edge-conditioned": edge_conditioned}
    if ref["builder"] not in builders:
        sys.exit(f"unknown builder {ref['builder']!r} ({', '.join(builders)})")
    if args.device != "cpu" and ref["builder"] not in ("stack", "basic", "appnp"):
        sys.exit(f"--device {args.device}: only node models (stack, basic, appnp) run there")
    train_step, inference = builders[ref["builder"]](args, ref, torch)
    report(args, torch, torch_geometric, train_step, inference)


def node_data(path, torch):
    """The node dataset gnn-bench wrote: `x` (absent when featureless), `edge_index`,
    `edge_type` (relational), `y`, `train_idx`, as torch tensors."""
    from safetensors.numpy import load_file

    t = {k: torch.from_numpy(v) for k, v in load_file(path).items()}
    for k in ["edge_index", "edge_type", "y", "train_idx"]:
        if k in t:
            t[k] = t[k].long()
    return t


def stack(args, ref, torch):
    """A stack of PyG convolutions: dropout before each, the activation between them (PyG's
    examples/gcn.py and gat.py have this shape), Adam with weight decay on the first layer or
    on all. `ref`: convs [{class, args, kwargs}], activation, dropout, lr, weight_decay,
    decay ("first" or "all")."""
    import torch.nn.functional as F
    import torch_geometric.nn as pyg_nn

    t = node_data(args.node_data, torch)
    act = getattr(F, ref["activation"])
    p = ref["dropout"]

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = torch.nn.ModuleList(
                getattr(pyg_nn, c["class"])(*c["args"], **c.get("kwargs", {}))
                for c in ref["convs"])

        def forward(self, x, edge_index):
            for i, conv in enumerate(self.convs):
                x = F.dropout(x, p=p, training=self.training)
                x = conv(x, edge_index)
                if i + 1 < len(self.convs):
                    x = act(x)
            return x

    model = Stack()
    if ref["decay"] == "first":
        groups = [dict(params=model.convs[0].parameters(), weight_decay=ref["weight_decay"])]
        groups += [dict(params=c.parameters(), weight_decay=0) for c in model.convs[1:]]
        optimizer = torch.optim.Adam(groups, lr=ref["lr"])
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=ref["lr"],
                                     weight_decay=ref["weight_decay"])

    return node_steps(model, optimizer, t, torch, args.device)


def node_steps(model, optimizer, t, torch, device):
    """The full-batch training step and inference of a node model `model(x, edge_index)`, with
    the model and the data on `device` (parameters move in place, so the optimizer follows)."""
    import torch.nn.functional as F

    model.to(device)
    t = {k: v.to(device) for k, v in t.items()}
    x, edge_index, y, train_idx = t.get("x"), t["edge_index"], t["y"], t["train_idx"]

    def train_step():
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index)[train_idx], y[train_idx])
        loss.backward()
        optimizer.step()
        return float(loss)

    @torch.no_grad()
    def inference():
        model.eval()
        return float(model(x, edge_index)[0, 0])

    return train_step, inference


def conv_of(c, pyg_nn, torch):
    """A PyG convolution from {class, args, kwargs}; GINConv gets the MLP gnn-rs's GinConv has
    (Linear → ReLU → Linear, widths in → out → out)."""
    if c["class"] == "GINConv":
        i, o = c["args"]
        mlp = torch.nn.Sequential(torch.nn.Linear(i, o), torch.nn.ReLU(), torch.nn.Linear(o, o))
        return pyg_nn.GINConv(mlp, **c.get("kwargs", {}))
    return getattr(pyg_nn, c["class"])(*c["args"], **c.get("kwargs", {}))


def basic(args, ref, torch):
    """PyG's BasicGNN shape, as gnn-rs's Stack: dropout on the input; per layer conv → norm →
    act → dropout (the output layer of a model without jumping knowledge bare); jumping
    knowledge cat or max, then a linear output layer. `ref`: convs [{class, args, kwargs,
    width}], out_channels, dropout, input_dropout, act, jk, norm, lr, weight_decay, decay."""
    import torch.nn.functional as F
    import torch_geometric.nn as pyg_nn

    t = node_data(args.node_data, torch)
    act = getattr(F, ref["act"])
    layers = len(ref["convs"])
    hidden = lambda i: i + 1 < layers or ref["jk"] != "last"
    norm_of = {"batch": torch.nn.BatchNorm1d, "layer": torch.nn.LayerNorm}

    class Basic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = torch.nn.ModuleList(conv_of(c, pyg_nn, torch) for c in ref["convs"])
            self.norms = torch.nn.ModuleList(
                norm_of[ref["norm"]](c["width"]) if ref["norm"] in norm_of and hidden(i)
                else torch.nn.Identity() for i, c in enumerate(ref["convs"]))
            width = sum(c["width"] for c in ref["convs"]) if ref["jk"] == "cat" \
                else ref["convs"][-1]["width"]
            self.lin = None if ref["jk"] == "last" else torch.nn.Linear(width, ref["out_channels"])

        def forward(self, x, edge_index):
            x = F.dropout(x, ref["input_dropout"], self.training)
            outs = []
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                x = conv(x, edge_index)
                if hidden(i):
                    x = F.dropout(act(norm(x)), ref["dropout"], self.training)
                outs.append(x)
            if ref["jk"] == "last":
                return x
            combined = torch.cat(outs, 1) if ref["jk"] == "cat" \
                else torch.stack(outs, 0).max(0).values
            return self.lin(combined)

    model = Basic()
    wd = ref["weight_decay"]
    if ref["decay"] == "first":
        rest = [p for m in [*model.convs[1:], model.norms, model.lin] if m is not None
                for p in m.parameters()]
        groups = [dict(params=model.convs[0].parameters(), weight_decay=wd),
                  dict(params=rest, weight_decay=0)]
    else:
        groups = [dict(params=model.parameters(), weight_decay=wd)]
    return node_steps(model, torch.optim.Adam(groups, lr=ref["lr"]), t, torch, args.device)


def appnp(args, ref, torch):
    """gnn-rs's `appnp` (PyG's examples/citation/appnp.py): dropout → lin1 → ReLU → dropout →
    lin2, then APPNP (K, alpha, edge dropout); weight decay on lin1 only. `ref`: in_channels,
    hidden_channels, out_channels, dropout, K, alpha, edge_dropout, lr, weight_decay."""
    import torch.nn.functional as F
    from torch_geometric.nn import APPNP

    t = node_data(args.node_data, torch)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin1 = torch.nn.Linear(ref["in_channels"], ref["hidden_channels"])
            self.lin2 = torch.nn.Linear(ref["hidden_channels"], ref["out_channels"])
            self.prop = APPNP(ref["K"], ref["alpha"], dropout=ref["edge_dropout"], cached=True)

        def forward(self, x, edge_index):
            p = ref["dropout"]
            x = F.dropout(self.lin1(F.dropout(x, p, self.training)).relu(), p, self.training)
            return self.prop(self.lin2(x), edge_index)

    model = Net()
    groups = [dict(params=model.lin1.parameters(), weight_decay=ref["weight_decay"]),
              dict(params=model.lin2.parameters(), weight_decay=0)]
    return node_steps(model, torch.optim.Adam(groups, lr=ref["lr"]), t, torch, args.device)


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

    gpu = {}
    if args.device.startswith("cuda"):
        gpu["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps({
        **gpu,
        "implementation": "pyg",
        "model": args.model,
        "dataset": args.dataset,
        "backend": f"torch-{args.device}",
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


def relational(args, ref, torch):
    """PyG's examples/rgcn.py model on the relational graph gnn-bench wrote (same nodes,
    edges, relations and split): two RGCNConv layers, featureless input (`x = None`), ReLU,
    Adam. `ref`: in_channels, hidden, out_channels, num_relations, num_bases, lr,
    weight_decay."""
    import torch.nn.functional as F
    from torch_geometric.nn import RGCNConv

    t = node_data(args.node_data, torch)
    edge_index, edge_type = t["edge_index"], t["edge_type"]
    train_idx, train_y = t["train_idx"], t["y"][t["train_idx"]]
    x = t.get("x")
    r, bases = ref["num_relations"], ref["num_bases"]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = RGCNConv(ref["in_channels"], ref["hidden"], r, num_bases=bases)
            self.conv2 = RGCNConv(ref["hidden"], ref["out_channels"], r, num_bases=bases)

        def forward(self):
            h = F.relu(self.conv1(x, edge_index, edge_type))
            return self.conv2(h, edge_index, edge_type)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=ref["lr"],
                                 weight_decay=ref["weight_decay"])

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

    return train_step, inference


def edge_conditioned(args, ref, torch):
    """PyG's examples/qm9_nn_conv.py model (mean NNConv, GRU, Set2Set) on the graphs and split
    gnn-bench exported, with gnn train's batches and optimiser. A timed step is one epoch over
    the training graphs; inference one pass over every graph. `ref`: dim, lr."""
    import torch.nn.functional as F

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
    train = DataLoader([graphs[i] for i in split["train"]], batch_size=args.batch_size,
                       shuffle=True)
    every = DataLoader(graphs, batch_size=512, shuffle=False)
    net = build(graphs[0].x.shape[1], graphs[0].edge_attr.shape[1], ref["dim"], outputs, torch)
    optimizer = torch.optim.Adam(net.parameters(), lr=ref["lr"])

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

    return train_step, inference


if __name__ == "__main__":
    main()
