#!/usr/bin/env python3
"""PyG's graph auto-encoders on Planetoid link prediction, the protocol of PyG's
examples/autoencoder.py (row-normalised features, RandomLinkSplit 85/5/10 undirected without
training negatives, GCN encoder 32 -> 16, Adam 0.01, 400 epochs, last epoch reported), for
side-by-side runs with `train/examples/gae_cora.rs`. Reads the same Planetoid files:

    python bench/pyg_gae.py --root ../shared/data --dataset cora --model gae --runs 10
"""
import argparse
import os
import shutil
import tempfile

import torch
import torch_geometric.transforms as T
from torch_geometric.datasets import Planetoid
from torch_geometric.nn import GAE, VGAE, GCNConv


class Encoder(torch.nn.Module):
    def __init__(self, f, out, variational):
        super().__init__()
        self.variational = variational
        self.conv1 = GCNConv(f, 2 * out, cached=True)
        if variational:
            self.conv_mu = GCNConv(2 * out, out, cached=True)
            self.conv_logstd = GCNConv(2 * out, out, cached=True)
        else:
            self.conv2 = GCNConv(2 * out, out, cached=True)

    def forward(self, x, edge_index):
        h = self.conv1(x, edge_index).relu()
        if self.variational:
            return self.conv_mu(h, edge_index), self.conv_logstd(h, edge_index)
        return self.conv2(h, edge_index)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True, help="data root holding planetoid/ind.<name>.*")
    p.add_argument("--dataset", default="cora")
    p.add_argument("--model", default="gae", choices=["gae", "vgae"])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--epochs", type=int, default=400)
    a = p.parse_args()
    torch.set_num_threads(1)
    # PyG's Planetoid wants <root>/<Name>/raw/ind.<name>.*: link the shared files there.
    tmp = tempfile.mkdtemp()
    name = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}[a.dataset]
    raw = os.path.join(tmp, name, "raw")
    os.makedirs(raw)
    for s in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"]:
        f = f"ind.{a.dataset}.{s}"
        os.symlink(os.path.abspath(os.path.join(a.root, "planetoid", f)), os.path.join(raw, f))
    aucs, aps = [], []
    for seed in range(a.runs):
        torch.manual_seed(seed)
        transform = T.Compose([T.NormalizeFeatures(), T.RandomLinkSplit(
            num_val=0.05, num_test=0.1, is_undirected=True, split_labels=True,
            add_negative_train_samples=False)])
        train, val, test = Planetoid(tmp, name, transform=transform)[0]
        variational = a.model == "vgae"
        enc = Encoder(train.num_features, 16, variational)
        model = VGAE(enc) if variational else GAE(enc)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(a.epochs):
            model.train()
            opt.zero_grad()
            z = model.encode(train.x, train.edge_index)
            loss = model.recon_loss(z, train.pos_edge_label_index)
            if variational:
                loss = loss + (1 / train.num_nodes) * model.kl_loss()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            z = model.encode(test.x, test.edge_index)
            auc, ap = model.test(z, test.pos_edge_label_index, test.neg_edge_label_index)
        print(f"seed {seed}: test AUC {100 * auc:.2f} %, AP {100 * ap:.2f} %", flush=True)
        aucs.append(auc)
        aps.append(ap)
    t = torch.tensor
    print(f"PyG {a.model.upper()} on {a.dataset}, {a.runs} seeds: test AUC "
          f"{100 * t(aucs).mean():.2f} ± {100 * t(aucs).std():.2f} %, AP "
          f"{100 * t(aps).mean():.2f} ± {100 * t(aps).std():.2f} %")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
