#!/usr/bin/env bash
# Seed corpora for the fuzz targets from the real files under the data root (never committed):
#   fuzz/seed.sh [DATA_ROOT]   (default: $GNN_DATA_DIR, else ../../shared/data)
# Model-file seeds (burnpack, model card) come from two tiny `gnn train --save` runs, so the
# release `gnn` binary must be built (cargo build --release -p gnn-train).
set -euo pipefail
cd "$(dirname "$0")"
D="${1:-${GNN_DATA_DIR:-$(cd ../.. && pwd)/shared/data}}"
GNN="${GNN:-${CARGO_TARGET_DIR:-../target}/release/gnn}"
mkdir -p corpus/{smiles,sdf,qm9_csv,tu,pickle,ntriples,kg,link_queries,ogb,feature_file,safetensors,burnpack,model_card}
tail -n +2 "$D/qm9/qm9_small.csv" | head -300 | awk -F, '{print $3 > "corpus/smiles/s"NR}'
cp "$D/qm9/qm9_mini.sdf" corpus/sdf/mini.sdf
awk 'BEGIN{n=1} {print > "corpus/sdf/r"n} /^\$\$\$\$/{n++}' "$D/qm9/qm9_mini.sdf"
head -21 "$D/qm9/qm9_small.csv" > corpus/qm9_csv/c20
head -4 "$D/qm9/qm9_small.csv" > corpus/qm9_csv/c3
# TU: the first 1, 2, 3 MUTAG graphs, files joined by NUL in the target's order.
python3 - "$D/tu/MUTAG/" <<'PY'
import sys
D = sys.argv[1]
rd = lambda f: [l.strip() for l in open(D + "MUTAG_" + f + ".txt")]
ind = [int(x) for x in rd("graph_indicator")]
A, nl, el, gl = rd("A"), rd("node_labels"), rd("edge_labels"), rd("graph_labels")
for G in (1, 2, 3):
    n = sum(1 for g in ind if g <= G)
    edges = [(i, a) for i, a in enumerate(A) if max(int(x) for x in a.split(",")) <= n]
    parts = ["\n".join(a for _, a in edges), "\n".join(map(str, ind[:n])), "\n".join(gl[:G]),
             "\n".join(nl[:n]), "\n".join(el[i] for i, _ in edges)]
    open(f"corpus/tu/g{G}", "wb").write(b"\0".join(p.encode() + b"\n" for p in parts))
PY
cp "$D"/planetoid/ind.cora.* corpus/pickle/
zcat "$D/rgcn_entities/aifb/aifb_stripped.nt.gz" | head -300 > corpus/ntriples/aifb300.nt || true
printf '<http://e/1> <http://p/a> <http://e/2> .\n<http://e/2> <http://p/b> "lit" .\n' > corpus/ntriples/tiny.nt
# Knowledge graphs: the small archives as they ship (gzip) and decompressed (tar).
for k in nations umls; do
  cp "$D/kg/$k.tar.gz" "corpus/kg/$k.tar.gz"
  zcat "$D/kg/$k.tar.gz" > "corpus/kg/$k.tar"
done
# Link queries: names and ids; OGB: a 4-node dataset, members cut at '|'.
printf 'a\tr\n1\t0\n' > corpus/link_queries/names.tsv
printf '4|3|0,1\n1,2\n2,3|0.5,1\n-1,2\n3,4\n0,0|0\n2\n1\nnan|0\n1|2|3\n' > corpus/ogb/toy
# Features file: 2 x 2 values after the 32-byte header.
{ printf 'GNNFEAT1'; printf '\x02\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'
  printf '\0\0\x80\x3f\0\0\0\x40\0\0\0\0\0\0\x80\xbf'; } > corpus/feature_file/two
for f in "$D"/../fixtures/pyg/gcn_*.safetensors; do cp "$f" corpus/safetensors/; done
tmp=$(mktemp -d)
GNN_DATA_DIR="$D" "$GNN" train --model gcn --dataset cora --epochs 2 --quiet --save "$tmp/gcn" >/dev/null
GNN_DATA_DIR="$D" "$GNN" train --model mpnn --dataset tu-mutag --folds 0 --hidden 4 --epochs 1 \
    --quiet --save "$tmp/mpnn" >/dev/null
for m in gcn mpnn; do
  cp "$tmp/$m/model.json" "corpus/model_card/$m.json"
  cp "$tmp/$m/model.bpk" "corpus/burnpack/$m.bpk"
done
rm -rf "$tmp"
echo "seeded: $(ls corpus | tr '\n' ' ')"
