//! [`EdgeConv`]: the edge convolution of dynamic graph CNNs (Wang et al. 2019), with PyG's
//! `EdgeConv` semantics on a given graph.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::message_passing::{Aggregation, EdgeInputs, MessagePassing};
use crate::{Graph, GraphError};

/// Configuration of an [`EdgeConv`] layer.
#[derive(Config, Debug)]
pub struct EdgeConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Hidden width of the MLP `H`.
    pub d_hidden: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Aggregation of the messages: max (the paper's) or mean (or sum, min).
    #[config(default = "Aggregation::Max")]
    pub aggr: Aggregation,
}

/// Edge convolution: `x'_i = ⊕_{j → i} MLP([x_i, x_j − x_i])`, with
/// `MLP = Linear(2F, H) → ReLU → Linear(H, F')` (PyG's `nn.0`, `nn.2`). A node without
/// incoming edges gets 0; an input self-loop contributes `MLP([x_i, 0])`.
///
/// # Shapes
/// - input `x`: `[N, F]`; output `[N, F']`
#[derive(Module, Debug)]
pub struct EdgeConv {
    /// First layer of the MLP, `2F → H`.
    pub nn0: Linear,
    /// Second layer of the MLP, `H → F'`.
    pub nn2: Linear,
    #[module(skip)]
    aggr: Aggregation,
}

impl EdgeConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> EdgeConv {
        EdgeConv {
            nn0: LinearConfig::new(2 * self.d_input, self.d_hidden).init(device),
            nn2: LinearConfig::new(self.d_hidden, self.d_output).init(device),
            aggr: self.aggr,
        }
    }
}

impl EdgeConv {
    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        self.propagate(x, graph)
    }
}

impl MessagePassing for EdgeConv {
    type Aggr = Aggregation;

    fn aggregator(&self) -> Aggregation {
        self.aggr
    }

    fn message(&self, edges: &EdgeInputs<'_>) -> Result<Tensor<2>, GraphError> {
        let x_i = edges.x_i();
        let h = Tensor::cat(vec![x_i.clone(), edges.x_j() - x_i], 1);
        Ok(self.nn2.forward(relu(self.nn0.forward(h))))
    }
}

impl PygParams for EdgeConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.nn0, &format!("{prefix}nn.0."), out);
        export_linear(&self.nn2, &format!("{prefix}nn.2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.nn0, &format!("{prefix}nn.0."), src);
        import_linear(&mut self.nn2, &format!("{prefix}nn.2."), src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn a_self_loop_sees_a_zero_difference_and_a_lonely_node_gets_zero() {
        let d = Device::flex();
        let g = Graph::new(&[1], &[1], 3, &d).unwrap();
        let layer = EdgeConvConfig::new(2, 3, 2)
            .with_aggr(Aggregation::Mean)
            .init(&d);
        let x = seeded_values(6, 2);
        let out = to_vec(layer.forward(tensor2(&x, [3, 2], &d), &g).unwrap());
        let own = tensor2(&[x[2], x[3], 0.0, 0.0], [1, 4], &d);
        let want = to_vec(layer.nn2.forward(relu(layer.nn0.forward(own))));
        assert_close(&out[2..4], &want, 1e-6, "self-loop");
        assert_eq!(&out[0..2], &[0.0, 0.0]);
    }
}
