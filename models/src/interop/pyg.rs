//! PyTorch Geometric `state_dict` names and layouts for every layer and model.
//!
//! | module | PyG names (shapes) | ours |
//! | --- | --- | --- |
//! | `Linear` | `weight [out, in]`, `bias [out]` | `weight [in, out]` (transposed) |
//! | [`GcnConv`](crate::layers::GcnConv) | `lin.weight [F', F]`, `bias [F']` | `lin`, `bias` |
//! | [`GatConv`](crate::layers::GatConv) | `lin.weight [H·C, F]`, `att_src`, `att_dst [1, H, C]`, `bias` | same names |
//! | [`GatV2Conv`](crate::layers::GatV2Conv) | `lin_l.*`, `lin_r.*`, `att [1, H, C]`, `bias` | same names |
//! | [`RgcnConv`](crate::layers::RgcnConv) | `weight [R, F, F']` or bases `weight [B, F, F']` + `comp [R, B]` or blocks `weight [R, B, F/B, F'/B]`; `root [F, F']`, `bias [F']` | blocks stored `[R·B, F/B, F'/B]` (same values) |
//! | [`NnConv`](crate::layers::NnConv) | `nn.0.weight [H, D]`, `nn.0.bias`, `nn.2.weight [F·F', H]`, `nn.2.bias`, `lin.weight [F', F]`, `bias` | `nn0`, `nn2`, `lin` |
//! | [`GruCell`](crate::layers::GruCell) | `weight_ih_l0 [3H, F]`, `weight_hh_l0 [3H, H]`, `bias_ih_l0`, `bias_hh_l0` (`torch.nn.GRU`) | weights transposed |
//! | [`Set2Set`](crate::layers::Set2Set) | `lstm.weight_ih_l0 [4d, 2d]`, `lstm.weight_hh_l0 [4d, d]`, `lstm.bias_ih_l0`, `lstm.bias_hh_l0` | weights transposed |
//! | [`Gcn`](crate::models::Gcn), [`Gat`](crate::models::Gat), [`Rgcn`](crate::models::Rgcn) | `conv1.*`, `conv2.*` (R-GCN input projection: `lin_in.*`) | |
//! | [`Mpnn`](crate::models::Mpnn) | `lin0.*`, `conv.*`, `gru.*`, `set2set.*`, `lin1.*`, `lin2.*` | |
//!
//! [`export_pyg`] writes these; [`import_pyg`] reads them strictly: every tensor the model
//! has must be present with its shape, and nothing else may be, or nothing is loaded.
//!
//! Each layer's and model's [`PygParams`] implementation lives in its own file, written with
//! the public helpers below ([`export_linear`], [`import_param`], …), which a layer defined
//! outside this crate uses the same way.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::state_dict::{HostTensor, InteropError, Mismatch, StateDict};

/// The PyTorch Geometric modules this library reproduces, with their semantics and
/// `state_dict` names, by PyG class name — and the composite modules of the parity fixtures
/// (`tests/fixtures/pyg`, cross-checked against `../shared/fixtures/pyg`) that its models
/// reproduce. The parity test fails on a fixture of any of them that it cannot run: a layer
/// listed here must have its test.
pub const PYG_MODULES: &[&str] = &[
    "GCNConv",
    "GATConv",
    "GATv2Conv",
    "RGCNConv",
    "NNConv",
    "Set2Set",
    "SAGEConv",
    "GINConv",
    "GINEConv",
    "GatedGraphConv",
    "TransformerConv",
    "ChebConv",
    "SGConv",
    "APPNP",
    "PNAConv",
    "EdgeConv",
    "DistMult",
    "MPNNStep",
    "MPNN",
    "TwoLayerGCN",
    "TwoLayerGAT",
    "TwoLayerSAGE",
    "GINGraphClassifier",
];

/// A module whose parameters have PyTorch Geometric `state_dict` names and layouts.
pub trait PygParams: Clone {
    /// Adds the parameters under `prefix` (`""`, or e.g. `"conv1."`) to `out`.
    fn export_pyg(&self, prefix: &str, out: &mut StateDict);

    /// Replaces the parameters with those named under `prefix`, taking them out of `src`.
    /// Names that are missing or of the wrong shape are recorded in `src`, not loaded.
    fn import_pyg(&mut self, prefix: &str, src: &mut Import);
}

/// A state dict being loaded into a module: what is left of it, and what went wrong so far.
pub struct Import {
    left: StateDict,
    mismatch: Mismatch,
}

impl Import {
    /// Starts loading `dict`.
    pub fn new(dict: StateDict) -> Self {
        Import {
            left: dict,
            mismatch: Mismatch::default(),
        }
    }

    /// Takes tensor `name` of PyG shape `shape`, as a tensor of our shape `ours` (same
    /// number of values) on `device`; records it as missing or mis-shaped otherwise.
    pub fn take<const D: usize>(
        &mut self,
        name: &str,
        shape: &[usize],
        ours: [usize; D],
        device: &Device,
    ) -> Option<Tensor<D>> {
        self.take_host(name, shape)
            .map(|t| t.to_tensor(ours, device))
    }

    /// Takes tensor `name` of shape `shape` as it is on the host; records it as missing or
    /// mis-shaped otherwise.
    pub fn take_host(&mut self, name: &str, shape: &[usize]) -> Option<HostTensor> {
        let Some(t) = self.left.remove(name) else {
            self.mismatch.missing.push((name.into(), shape.to_vec()));
            return None;
        };
        if t.shape != shape {
            self.mismatch
                .wrong_shape
                .push((name.into(), shape.to_vec(), t.shape));
            return None;
        }
        Some(t)
    }

    /// Ends the load: an error listing every missing, unexpected and mis-shaped tensor.
    pub fn finish(mut self) -> Result<(), InteropError> {
        self.mismatch.unexpected = self.left.into_iter().map(|(k, t)| (k, t.shape)).collect();
        if self.mismatch.is_empty() {
            Ok(())
        } else {
            Err(InteropError::Mismatch(self.mismatch))
        }
    }
}

/// The module's parameters under PyG's names and layouts.
pub fn export_pyg<M: PygParams>(module: &M) -> StateDict {
    let mut out = StateDict::new();
    module.export_pyg("", &mut out);
    out
}

/// Loads a PyG `state_dict` into `module`, strictly (as `load_state_dict(strict=True)`):
/// on any missing, unexpected or mis-shaped tensor the module is left unchanged and the error
/// lists them all.
pub fn import_pyg<M: PygParams>(module: &mut M, dict: StateDict) -> Result<(), InteropError> {
    let mut import = Import::new(dict);
    let mut loaded = module.clone();
    loaded.import_pyg("", &mut import);
    import.finish()?;
    *module = loaded;
    Ok(())
}

fn device_of<const D: usize>(p: &Param<Tensor<D>>) -> Device {
    p.val().device()
}

/// Adds a tensor stored with the same layout in both libraries under `name`.
pub fn export_param<const D: usize>(p: &Param<Tensor<D>>, name: String, out: &mut StateDict) {
    out.insert(name, HostTensor::from_tensor(p.val()));
}

/// Adds a Burn [`Linear`] as PyTorch's `Linear` under `prefix`: `weight [out, in]`
/// (transposed), `bias [out]`.
pub fn export_linear(lin: &Linear, prefix: &str, out: &mut StateDict) {
    out.insert(
        format!("{prefix}weight"),
        HostTensor::from_tensor(lin.weight.val()).transposed(),
    );
    if let Some(b) = &lin.bias {
        export_param(b, format!("{prefix}bias"), out);
    }
}

/// Loads PyTorch's `Linear` under `prefix` into a Burn [`Linear`] (see [`export_linear`]).
pub fn import_linear(lin: &mut Linear, prefix: &str, src: &mut Import) {
    let device = device_of(&lin.weight);
    let [fin, fout] = lin.weight.val().dims();
    // Transposed on the host, so that the weight is stored contiguously as `[in, out]`
    // (a transposed view would take other matmul kernels and round differently).
    if let Some(w) = src.take_host(&format!("{prefix}weight"), &[fout, fin]) {
        let t = w.transposed();
        lin.weight = Param::from_tensor(t.to_tensor([fin, fout], &device));
    }
    if let Some(b) = &mut lin.bias {
        import_param(b, &format!("{prefix}bias"), src);
    }
}

/// Loads a parameter stored with the same name and layout in both libraries.
pub fn import_param<const D: usize>(p: &mut Param<Tensor<D>>, name: &str, src: &mut Import) {
    let device = device_of(p);
    let dims = p.val().dims();
    if let Some(t) = src.take(name, &dims, dims, &device) {
        *p = Param::from_tensor(t);
    }
}

/// Adds an optional bias as `{prefix}bias`.
pub fn export_bias(bias: &Option<Param<Tensor<1>>>, prefix: &str, out: &mut StateDict) {
    if let Some(b) = bias {
        export_param(b, format!("{prefix}bias"), out);
    }
}

/// Loads an optional bias from `{prefix}bias` (see [`export_bias`]).
pub fn import_bias(bias: &mut Option<Param<Tensor<1>>>, prefix: &str, src: &mut Import) {
    if let Some(b) = bias {
        import_param(b, &format!("{prefix}bias"), src);
    }
}

/// Adds a matrix stored `[in, out]` here and `[out, in]` in PyTorch (recurrent weights).
pub fn export_transposed(p: &Param<Tensor<2>>, name: String, out: &mut StateDict) {
    out.insert(name, HostTensor::from_tensor(p.val()).transposed());
}

/// Loads a matrix stored `[out, in]` in PyTorch (see [`export_transposed`]).
pub fn import_transposed(p: &mut Param<Tensor<2>>, name: &str, src: &mut Import) {
    let device = device_of(p);
    let [fin, fout] = p.val().dims();
    if let Some(t) = src.take_host(name, &[fout, fin]) {
        *p = Param::from_tensor(t.transposed().to_tensor([fin, fout], &device));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{GatV2ConvConfig, RgcnConvConfig};
    use crate::models::{GatConfig, GcnConfig, RgcnConfig};
    use crate::testing::*;
    use crate::{Features, Graph, GraphModel};

    fn graph(d: &Device) -> Graph {
        Graph::new(&[0, 1, 2, 3, 0], &[1, 2, 3, 0, 2], 4, d)
            .unwrap()
            .with_edge_types(&[0, 1, 0, 2, 1], 3)
            .unwrap()
    }

    /// Export from one model, import into a differently initialised one: same outputs.
    fn round_trip<M: PygParams + GraphModel>(a: M, mut b: M, x: Features, g: &Graph) {
        let before = to_vec(b.forward(x.clone(), g).unwrap());
        let want = to_vec(a.forward(x.clone(), g).unwrap());
        assert_ne!(before, want, "the two initialisations differ");
        import_pyg(&mut b, export_pyg(&a)).unwrap();
        assert_eq!(to_vec(b.forward(x, g).unwrap()), want);
        assert_eq!(export_pyg(&b), export_pyg(&a));
    }

    #[test]
    fn every_model_round_trips() {
        let d = Device::flex();
        let g = graph(&d);
        let x: Features = tensor2(&seeded_values(4 * 6, 3), [4, 6], &d).into();
        let gcn = GcnConfig::new(6, 3).with_d_hidden(4);
        round_trip(gcn.init(&d), gcn.init(&d), x.clone(), &g);
        let gat = GatConfig::new(6, 3).with_d_hidden(2).with_heads(2);
        round_trip(gat.init(&d), gat.init(&d), x.clone(), &g);
        for rgcn in [
            RgcnConfig::new(6, 3, 3).with_num_bases(Some(2)),
            RgcnConfig::new(6, 4, 3)
                .with_d_hidden(4)
                .with_num_blocks(Some(2)),
            RgcnConfig::new(6, 3, 3).with_input_projection(Some(5)),
        ] {
            round_trip(
                rgcn.init(&d).unwrap(),
                rgcn.init(&d).unwrap(),
                x.clone(),
                &g,
            );
        }
    }

    #[test]
    fn names_and_shapes_follow_pyg() {
        let d = Device::flex();
        let names = |dict: &StateDict| -> Vec<(String, Vec<usize>)> {
            dict.iter()
                .map(|(k, t)| (k.clone(), t.shape.clone()))
                .collect()
        };
        let gcn = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
        assert_eq!(
            names(&export_pyg(&gcn)),
            [
                ("conv1.bias".into(), vec![4]),
                ("conv1.lin.weight".into(), vec![4, 5]),
                ("conv2.bias".into(), vec![3]),
                ("conv2.lin.weight".into(), vec![3, 4]),
            ]
        );
        let blocks = RgcnConvConfig::new(4, 6, 3)
            .with_num_blocks(Some(2))
            .init(&d)
            .unwrap();
        assert_eq!(export_pyg(&blocks)["weight"].shape, vec![3, 2, 2, 3]);
        let v2 = GatV2ConvConfig::new(4, 2).with_heads(3).init(&d);
        let keys: Vec<String> = export_pyg(&v2).into_keys().collect();
        assert_eq!(
            keys,
            [
                "att",
                "bias",
                "lin_l.bias",
                "lin_l.weight",
                "lin_r.bias",
                "lin_r.weight"
            ]
        );
    }

    #[test]
    fn mismatches_are_listed_and_nothing_is_loaded() {
        let d = Device::flex();
        let gcn = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
        let mut dict = export_pyg(&gcn);
        dict.remove("conv2.bias");
        dict.get_mut("conv1.lin.weight").unwrap().shape = vec![5, 4];
        dict.insert(
            "conv3.weight".into(),
            HostTensor {
                shape: vec![1],
                values: vec![0.0],
            },
        );
        let mut other = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
        let before = export_pyg(&other);
        let e = import_pyg(&mut other, dict).unwrap_err().to_string();
        for part in [
            "missing conv2.bias [3]",
            "unexpected conv3.weight [1]",
            "conv1.lin.weight is [5, 4], expected [4, 5]",
        ] {
            assert!(e.contains(part), "{e}");
        }
        assert_eq!(export_pyg(&other), before, "nothing was loaded");
        // A GAT's weights do not load into a GCN.
        let gat = GatConfig::new(5, 3).with_d_hidden(2).init(&d);
        let e = import_pyg(&mut other, export_pyg(&gat)).unwrap_err();
        assert!(e.to_string().contains("unexpected conv1.att_dst"), "{e}");
    }
}
