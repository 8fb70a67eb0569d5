//! [`PnaConv`]: principal neighbourhood aggregation (Corso et al. 2020), with PyG's `PNAConv`
//! semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::interop::{HostTensor, Import, PygParams, StateDict, export_linear, import_linear};
use crate::message_passing::{
    gather_dst, gather_src, segment_count, segment_max, segment_mean, segment_min, segment_sum,
};
use crate::{Graph, GraphError};

/// An aggregator of [`PnaConv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PnaAggregator {
    /// `Σ_j m_j`.
    Sum,
    /// `mean_j m_j`.
    Mean,
    /// Element-wise minimum.
    Min,
    /// Element-wise maximum.
    Max,
    /// `mean(m²) − mean(m)²`.
    Var,
    /// `√var` where `var > 1e-5`, else 0 (PyG's `sqrt(clamp(var, 1e-5))`, zeroed at the clamp).
    Std,
}

/// A degree scaler of [`PnaConv`], with `d` the in-degree (at least 1) and `δ` the average of
/// `log(d + 1)` (or of `d`, for the linear ones) over the training graphs' nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PnaScaler {
    /// `1`.
    Identity,
    /// `log(d + 1) / δ_log`.
    Amplification,
    /// `δ_log / log(d + 1)`.
    Attenuation,
    /// `d / δ_lin`.
    Linear,
    /// `δ_lin / d`.
    InverseLinear,
}

/// Towers that do not divide the widths of a [`PnaConv`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "PNA: {towers} towers must divide the output width {output} (and the input width {input} with divide_input)"
)]
pub struct PnaTowersError {
    /// Towers.
    pub towers: usize,
    /// Input width.
    pub input: usize,
    /// Output width.
    pub output: usize,
}

/// Configuration of a [`PnaConv`] layer.
#[derive(Config, Debug)]
pub struct PnaConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'` (a multiple of `towers`).
    pub d_output: usize,
    /// The aggregators, in the order their outputs are concatenated.
    pub aggregators: Vec<PnaAggregator>,
    /// The scalers, in the order their outputs are concatenated.
    pub scalers: Vec<PnaScaler>,
    /// In-degree histogram of the training graphs: `deg[k]` nodes have in-degree `k`.
    pub deg: Vec<usize>,
    /// Edge features of this width, encoded to `F` and given to the messages.
    #[config(default = "None")]
    pub edge_dim: Option<usize>,
    /// Towers (independent message and update networks, outputs concatenated).
    #[config(default = 1)]
    pub towers: usize,
    /// Linear layers of each message network (ReLU between them).
    #[config(default = 1)]
    pub pre_layers: usize,
    /// Linear layers of each update network (ReLU between them).
    #[config(default = 1)]
    pub post_layers: usize,
    /// Split the input features between the towers instead of giving each all of them.
    #[config(default = false)]
    pub divide_input: bool,
}

impl PnaConvConfig {
    /// `(δ_lin, δ_log)`: the mean in-degree and the mean of `log(d + 1)` of the histogram.
    pub fn average_degrees(&self) -> (f64, f64) {
        let total: f64 = self.deg.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
        let (mut lin, mut log) = (0.0, 0.0);
        for (k, &c) in self.deg.iter().enumerate() {
            lin += k as f64 * c as f64;
            log += ((k + 1) as f64).ln() * c as f64;
        }
        (lin / total, log / total)
    }

    /// Builds the layer with PyTorch's default `Linear` initialisation; widths that do not
    /// divide into the towers are an error.
    pub fn init(&self, device: &Device) -> Result<PnaConv, PnaTowersError> {
        let t = self.towers.max(1);
        let divides = |w: usize| w.is_multiple_of(t);
        if !divides(self.d_output) || (self.divide_input && !divides(self.d_input)) {
            return Err(PnaTowersError {
                towers: t,
                input: self.d_input,
                output: self.d_output,
            });
        }
        let f_in = if self.divide_input {
            self.d_input / t
        } else {
            self.d_input
        };
        let f_out = self.d_output / t;
        let stack = |first: usize, width: usize, layers: usize| -> Vec<Linear> {
            let mut v = vec![LinearConfig::new(first, width).init(device)];
            for _ in 1..layers.max(1) {
                v.push(LinearConfig::new(width, width).init(device));
            }
            v
        };
        let message_in = if self.edge_dim.is_some() { 3 } else { 2 } * f_in;
        let update_in = (self.aggregators.len() * self.scalers.len() + 1) * f_in;
        let (lin, log) = self.average_degrees();
        Ok(PnaConv {
            edge_encoder: self
                .edge_dim
                .map(|d| LinearConfig::new(d, f_in).init(device)),
            pre_nns: (0..t)
                .map(|_| stack(message_in, f_in, self.pre_layers))
                .collect(),
            post_nns: (0..t)
                .map(|_| stack(update_in, f_out, self.post_layers))
                .collect(),
            lin: LinearConfig::new(self.d_output, self.d_output).init(device),
            aggregators: self.aggregators.clone(),
            scalers: self.scalers.clone(),
            avg_deg_lin: lin,
            avg_deg_log: log,
            towers: t,
            f_in,
            divide_input: self.divide_input,
            edge_dim: self.edge_dim.unwrap_or(0),
        })
    }
}

/// Principal neighbourhood aggregation, per tower `t`:
///
/// `m_ji = pre_t([x_i, x_j, e_ji W_e + b_e])` (no edge term without edge features; target
/// first); at each node the aggregators over its incoming messages, concatenated, times each
/// scaler of its in-degree, concatenated: `s_i`; `y_i = post_t([x_i, s_i])`. The towers'
/// outputs are concatenated and mixed: `out = [y¹ … y^T] W + b`. A node without incoming
/// edges aggregates to 0. `pre_t` and `post_t` are linear layers with ReLU between them.
///
/// Parameters have PyG's names: `edge_encoder`, `pre_nns.t.(2l)`, `post_nns.t.(2l)`, `lin`,
/// and the buffers `aggr_module.avg_deg_lin`, `aggr_module.avg_deg_log` (`δ`).
///
/// # Shapes
/// - input `x`: `[N, F]`; edge features `[E, D]` with `edge_dim`; output `[N, F']`
#[derive(Module, Debug)]
pub struct PnaConv {
    /// Edge feature encoder `D → F_in`.
    pub edge_encoder: Option<Linear>,
    /// Message networks, one per tower.
    pub pre_nns: Vec<Vec<Linear>>,
    /// Update networks, one per tower.
    pub post_nns: Vec<Vec<Linear>>,
    /// Output mixing `F' → F'`.
    pub lin: Linear,
    #[module(skip)]
    aggregators: Vec<PnaAggregator>,
    #[module(skip)]
    scalers: Vec<PnaScaler>,
    #[module(skip)]
    avg_deg_lin: f64,
    #[module(skip)]
    avg_deg_log: f64,
    towers: usize,
    f_in: usize,
    divide_input: bool,
    edge_dim: usize,
}

/// Linear layers with ReLU between them.
fn mlp(layers: &[Linear], x: Tensor<2>) -> Tensor<2> {
    let mut h = layers[0].forward(x);
    for lin in &layers[1..] {
        h = lin.forward(relu(h));
    }
    h
}

impl PnaConv {
    /// One aggregator over the messages `[E, F]` at their targets: `[N, F]`.
    fn aggregate(
        &self,
        aggr: PnaAggregator,
        m: Tensor<2>,
        ids: &Tensor<1, Int>,
        n: usize,
    ) -> Tensor<2> {
        let variance = |m: Tensor<2>| {
            let mean = segment_mean(m.clone(), ids, n);
            segment_mean(m.clone() * m, ids, n) - mean.clone() * mean
        };
        match aggr {
            PnaAggregator::Sum => segment_sum(m, ids, n),
            PnaAggregator::Mean => segment_mean(m, ids, n),
            PnaAggregator::Min => segment_min(m, ids, n),
            PnaAggregator::Max => segment_max(m, ids, n),
            PnaAggregator::Var => variance(m),
            PnaAggregator::Std => {
                let std = variance(m).clamp_min(1e-5).sqrt();
                let floor = std.clone().lower_equal_elem(1e-5f64.sqrt());
                std.mask_fill(floor, 0.0)
            }
        }
    }

    /// The scaler's factor per node from the in-degree `d ≥ 1`, `[N, 1]`.
    fn scale(&self, scaler: PnaScaler, deg: &Tensor<1>) -> Option<Tensor<2>> {
        let log = || deg.clone().add_scalar(1.0).log();
        let s = match scaler {
            PnaScaler::Identity => return None,
            PnaScaler::Amplification => log().div_scalar(self.avg_deg_log),
            PnaScaler::Attenuation => log().recip().mul_scalar(self.avg_deg_log),
            PnaScaler::Linear => deg.clone().div_scalar(self.avg_deg_lin),
            PnaScaler::InverseLinear => deg.clone().recip().mul_scalar(self.avg_deg_lin),
        };
        Some(s.unsqueeze_dim(1))
    }

    /// Applies the layer. With `edge_dim`, a graph without edge features of that width is an
    /// error.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let [n, _] = x.dims();
        let (f, ids) = (self.f_in, graph.dst());
        let edge = match &self.edge_encoder {
            Some(enc) => {
                Some(enc.forward(graph.require_edge_attr("PNAConv", self.edge_dim)?.clone()))
            }
            None => None,
        };
        let deg = segment_count(ids, n, &x.device()).clamp_min(1.0);
        let mut outs = Vec::with_capacity(self.towers);
        for t in 0..self.towers {
            let xt = if self.divide_input {
                x.clone().slice([0..n, t * f..(t + 1) * f])
            } else {
                x.clone()
            };
            let mut parts = vec![gather_dst(xt.clone(), graph), gather_src(xt.clone(), graph)];
            parts.extend(edge.clone());
            let messages = mlp(&self.pre_nns[t], Tensor::cat(parts, 1));
            let aggregated: Vec<Tensor<2>> = self
                .aggregators
                .iter()
                .map(|&a| self.aggregate(a, messages.clone(), ids, n))
                .collect();
            let aggregated = Tensor::cat(aggregated, 1);
            let mut update = vec![xt];
            for &s in &self.scalers {
                update.push(match self.scale(s, &deg) {
                    Some(factor) => aggregated.clone() * factor,
                    None => aggregated.clone(),
                });
            }
            outs.push(mlp(&self.post_nns[t], Tensor::cat(update, 1)));
        }
        Ok(self.lin.forward(Tensor::cat(outs, 1)))
    }
}

impl PygParams for PnaConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        for (name, v) in [
            ("avg_deg_lin", self.avg_deg_lin),
            ("avg_deg_log", self.avg_deg_log),
        ] {
            let t = HostTensor {
                shape: vec![1],
                values: vec![v as f32],
            };
            out.insert(format!("{prefix}aggr_module.{name}"), t);
        }
        if let Some(enc) = &self.edge_encoder {
            export_linear(enc, &format!("{prefix}edge_encoder."), out);
        }
        for (kind, nets) in [("pre_nns", &self.pre_nns), ("post_nns", &self.post_nns)] {
            for (t, layers) in nets.iter().enumerate() {
                for (l, lin) in layers.iter().enumerate() {
                    export_linear(lin, &format!("{prefix}{kind}.{t}.{}.", 2 * l), out);
                }
            }
        }
        export_linear(&self.lin, &format!("{prefix}lin."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        for (name, v) in [
            ("avg_deg_lin", &mut self.avg_deg_lin),
            ("avg_deg_log", &mut self.avg_deg_log),
        ] {
            if let Some(t) = src.take_host(&format!("{prefix}aggr_module.{name}"), &[1]) {
                *v = f64::from(t.values[0]);
            }
        }
        if let Some(enc) = &mut self.edge_encoder {
            import_linear(enc, &format!("{prefix}edge_encoder."), src);
        }
        for (kind, nets) in [
            ("pre_nns", &mut self.pre_nns),
            ("post_nns", &mut self.post_nns),
        ] {
            for (t, layers) in nets.iter_mut().enumerate() {
                for (l, lin) in layers.iter_mut().enumerate() {
                    import_linear(lin, &format!("{prefix}{kind}.{t}.{}.", 2 * l), src);
                }
            }
        }
        import_linear(&mut self.lin, &format!("{prefix}lin."), src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn average_degrees_of_a_histogram() {
        let c = PnaConvConfig::new(2, 2, vec![], vec![], vec![2, 4, 2, 0, 1]);
        let (lin, log) = c.average_degrees();
        assert!((lin - (4.0 + 4.0 + 4.0) / 9.0).abs() < 1e-12);
        let want = (2.0 * 1f64.ln() + 4.0 * 2f64.ln() + 2.0 * 3f64.ln() + 5f64.ln()) / 9.0;
        assert!((log - want).abs() < 1e-12);
    }

    #[test]
    fn towers_split_the_output_and_nodes_without_edges_aggregate_to_zero() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2], &[1, 2, 1], 4, &d).unwrap();
        let config = PnaConvConfig::new(
            4,
            6,
            vec![PnaAggregator::Mean, PnaAggregator::Std, PnaAggregator::Max],
            vec![PnaScaler::Identity, PnaScaler::Attenuation],
            vec![2, 1, 1],
        )
        .with_towers(2)
        .with_pre_layers(2)
        .with_post_layers(2);
        let layer = config.init(&d).unwrap();
        let x = tensor2(&seeded_values(16, 1), [4, 4], &d);
        let out = to_vec(layer.forward(x, &g).unwrap());
        assert_eq!(out.len(), 24);
        assert!(out.iter().all(|v| v.is_finite()));
        assert!(
            config.with_towers(4).init(&d).is_err(),
            "4 towers do not divide 6"
        );
    }
}
