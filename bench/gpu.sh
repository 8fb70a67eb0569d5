#!/usr/bin/env bash
# The GPU benchmark, one command for a machine with an NVIDIA GPU (prepared to finish in under
# 8 minutes): GCN, GAT and GraphSAGE training steps and inference on Erdős–Rényi graphs of
# 10^5 to 10^8 edges (32 features), on Burn's wgpu and cuda backends and on PyG with CUDA, in
# one sitting; writes docs/bench-gpu.json (every measurement, machine, versions), the markdown
# table on stdout, and docs/bench-gpu.svg; then runs the GPU kernels' tests on the GPU.
#
# Needs: a Rust toolchain with this workspace's crates (network or a filled cargo registry; the
# `cuda` feature's build also fetches an LLVM bundle for CubeCL, so it needs network once), the
# CUDA driver, and a Python with torch (CUDA build) and torch_geometric 2.8.1 — give its
# interpreter as PYG_PYTHON (default: python3). Nothing else is installed or downloaded.
#
#   bash bench/gpu.sh            # OUT=docs by default
#
# Not yet run: no GPU machine has been available to this project (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-docs}
PYG_PYTHON=${PYG_PYTHON:-python3}
THREADS=$(nproc)

cargo build --release -p gnn-bench --features wgpu,cuda
bench=./target/release/gnn-bench
common=(--backends wgpu,cuda --threads "$THREADS" --repeats 1 --warmup 3 --steps 10
        --pyg-python "$PYG_PYTHON" --pyg-device cuda)

# All three models up to 10^7 edges; GCN alone at 10^8 (GAT's [E, H] attention and SAGE's
# messages at 10^8 edges would not fit the time budget on every GPU).
timeout 330 "$bench" --models gcn,gat,sage \
    --datasets er-10000-10,er-100000-10,er-1000000-10 "${common[@]}" \
    --json "$OUT/bench-gpu.json" --svg "$OUT/bench-gpu.svg"
timeout 130 "$bench" --models gcn --datasets er-10000000-10 "${common[@]}" \
    --json "$OUT/bench-gpu-1e8.json"

# The GPU kernels on a real GPU (wgpu and cuda): every fused operation forward and backward
# against Burn's portable path, and two runs bitwise equal (models/src/kernels/ops.rs tests).
timeout 150 cargo test --release -p gnn-models --features wgpu,cuda --lib -- kernels::ops \
    2>&1 | tee "$OUT/bench-gpu-kernel-tests.txt"
