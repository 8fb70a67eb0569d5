#!/usr/bin/env python3
"""R-GCN + DistMult knowledge-graph completion in PyG, the model and training step of PyG's
examples/rgcn_link_pred.py (learned entity embeddings, two RGCNConv layers with 5 blocks,
dropout 0.2, DistMult decoder, binary cross-entropy over the training facts and one
head-or-tail corruption each, L2 penalty 0.01 on z and the relation vectors, gradient norm
clipped at 1, Adam 0.01), for side-by-side timing with `gnn train --model rgcn-distmult`.

Reads the same ConvE archive (`<root>/kg/<name>.tar.gz`) with the same vocabularies (first
seen over train, valid, test) and builds the example's graph (training facts plus inverses,
relation r + R). Times `--epochs` full-batch training epochs and one filtered evaluation of
the test facts with the example's `compute_mrr` (one query at a time, ties ranked by the mean
of optimistic and pessimistic rank), `--eval-limit` facts of it when given:

    python bench/pyg_rgcn_link.py --root ../shared/data --dataset fb15k-237 --epochs 3 --threads 1
"""
import argparse
import json
import resource
import tarfile
import time

import torch
import torch.nn.functional as F
from torch.nn import Parameter
from torch_geometric.nn import GAE, RGCNConv

ARCHIVES = {"fb15k-237": "FB15k-237", "kinship": "kinship", "nations": "nations", "umls": "umls"}


def load(root, name):
    path = f"{root}/kg/{ARCHIVES[name]}.tar.gz"
    splits = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            base = member.name.split("/")[-1]
            if base in ("train.txt", "valid.txt", "test.txt"):
                text = tar.extractfile(member).read().decode()
                splits[base[:-4]] = [l.strip("\r").split("\t") for l in text.split("\n") if l.strip()]
    ent, rel = {}, {}
    ids = {}
    for split in ("train", "valid", "test"):
        rows = []
        for h, r, t in splits[split]:
            rows.append((ent.setdefault(h, len(ent)), rel.setdefault(r, len(rel)), ent.setdefault(t, len(ent))))
        ids[split] = torch.tensor(rows, dtype=torch.long)
    return ids, len(ent), len(rel)


class Encoder(torch.nn.Module):
    def __init__(self, n, hidden, relations):
        super().__init__()
        self.node_emb = Parameter(torch.empty(n, hidden))
        self.conv1 = RGCNConv(hidden, hidden, relations, num_blocks=5)
        self.conv2 = RGCNConv(hidden, hidden, relations, num_blocks=5)
        torch.nn.init.xavier_uniform_(self.node_emb)

    def forward(self, edge_index, edge_type):
        x = self.conv1(self.node_emb, edge_index, edge_type).relu_()
        x = F.dropout(x, p=0.2, training=self.training)
        return self.conv2(x, edge_index, edge_type)


class DistMult(torch.nn.Module):
    def __init__(self, relations, hidden):
        super().__init__()
        self.rel_emb = Parameter(torch.empty(relations, hidden))
        torch.nn.init.xavier_uniform_(self.rel_emb)

    def forward(self, z, edge_index, edge_type):
        return (z[edge_index[0]] * self.rel_emb[edge_type] * z[edge_index[1]]).sum(dim=1)


def corrupt(edge_index, n):
    heads = torch.rand(edge_index.size(1)) < 0.5
    neg = edge_index.clone()
    neg[0, heads] = torch.randint(n, (int(heads.sum()),))
    neg[1, ~heads] = torch.randint(n, (int((~heads).sum()),))
    return neg


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--dataset", default="fb15k-237")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-limit", type=int, default=0, help="rank only the first N test facts")
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ids, n, r = load(a.root, a.dataset)
    train = ids["train"]
    edge_index = torch.cat([train[:, [0, 2]].t(), train[:, [2, 0]].t()], dim=1)
    edge_type = torch.cat([train[:, 1], train[:, 1] + r])
    model = GAE(Encoder(n, a.hidden, 2 * r), DistMult(r, a.hidden))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    pos_index, pos_type = train[:, [0, 2]].t(), train[:, 1]

    epoch_s = []
    for epoch in range(a.epochs):
        start = time.perf_counter()
        model.train()
        opt.zero_grad()
        z = model.encode(edge_index, edge_type)
        pos = model.decode(z, pos_index, pos_type)
        neg = model.decode(z, corrupt(pos_index, n), pos_type)
        out = torch.cat([pos, neg])
        truth = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
        loss = F.binary_cross_entropy_with_logits(out, truth)
        loss = loss + 1e-2 * (z.pow(2).mean() + model.decoder.rel_emb.pow(2).mean())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        epoch_s.append(time.perf_counter() - start)
        print(f"epoch {epoch + 1}: loss {float(loss):.4f}, {epoch_s[-1]:.2f} s", flush=True)

    # The example's filtered ranking, one query at a time.
    known = torch.cat([ids["train"], ids["valid"], ids["test"]])
    test = ids["test"] if a.eval_limit == 0 else ids["test"][: a.eval_limit]
    start = time.perf_counter()
    model.eval()
    with torch.no_grad():
        z = model.encode(edge_index, edge_type)
        reciprocal = []
        for h, rel, t in test.tolist():
            for side in ("tail", "head"):
                mask = torch.ones(n, dtype=torch.bool)
                if side == "tail":
                    mask[known[(known[:, 0] == h) & (known[:, 1] == rel), 2]] = False
                    cand = torch.cat([torch.tensor([t]), torch.arange(n)[mask]])
                    index = torch.stack([torch.full_like(cand, h), cand])
                else:
                    mask[known[(known[:, 2] == t) & (known[:, 1] == rel), 0]] = False
                    cand = torch.cat([torch.tensor([h]), torch.arange(n)[mask]])
                    index = torch.stack([cand, torch.full_like(cand, t)])
                s = model.decode(z, index, torch.full_like(cand, rel))
                optimistic = (s > s[0]).sum() + 1
                pessimistic = (s >= s[0]).sum()
                reciprocal.append(2.0 / float(optimistic + pessimistic))
    eval_s = time.perf_counter() - start
    result = {
        "dataset": a.dataset,
        "entities": n,
        "relations": r,
        "threads": a.threads,
        "epochs": a.epochs,
        "epoch_s": epoch_s,
        "epoch_s_median": sorted(epoch_s)[len(epoch_s) // 2] if epoch_s else None,
        "eval_facts": len(test),
        "eval_s": eval_s,
        "test_mrr": sum(reciprocal) / len(reciprocal),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
