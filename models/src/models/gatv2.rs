//! GATv2 (Brody et al. 2022) for transductive node classification: the GAT model with dynamic
//! attention layers, trained under the GAT protocol.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};
use serde_json::Value;

use super::gat::{GatConfig, GatOptions, gat_protocol, two_attention_layers};
use crate::interop::{Import, PygParams, StateDict};
use crate::layers::{Attention, GatV2Conv, GatV2ConvConfig};
use crate::registry::bound::{Count, check_parameters};
use crate::registry::{DataInfo, FitConfig, ModelSpec, Protocol, SpecError, Task, dims};
use crate::{Features, Graph, GraphError, GraphModel};

/// Two GATv2 layers with ELU between them, configured like [`Gat`](super::Gat) by a
/// [`GatConfig`]:
///
/// `out = conv2(dropout(elu(conv1(dropout(x)))))`, `conv1`: `H` heads of `C` concatenated,
/// `conv2`: `out_heads` heads averaged; attention dropout inside both layers.
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, classes]` (logits)
#[derive(Module, Debug)]
pub struct GatV2 {
    /// First layer `F → H·C`.
    pub conv1: GatV2Conv,
    /// Output layer `H·C → classes`.
    pub conv2: GatV2Conv,
    /// Dropout on features (training only).
    pub dropout: Dropout,
}

impl GatV2 {
    /// Builds the model of architecture `c`.
    pub fn new(c: &GatConfig, device: &Device) -> Self {
        GatV2 {
            conv1: GatV2ConvConfig::new(c.d_input, c.d_hidden)
                .with_heads(c.heads)
                .with_dropout(c.dropout)
                .init(device),
            conv2: GatV2ConvConfig::new(c.d_hidden * c.heads, c.d_output)
                .with_heads(c.out_heads)
                .with_concat(false)
                .with_dropout(c.dropout)
                .init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
        }
    }

    /// Applies the model and returns the attention of both layers.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, classes]`
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> (Tensor<2>, [Attention; 2]) {
        two_attention_layers(
            x.into(),
            &self.dropout,
            |x| self.conv1.forward_with_attention(x, graph),
            |h| self.conv2.forward_with_attention(h, graph),
        )
    }
}

impl GraphModel for GatV2 {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.forward_with_attention(x, graph).0)
    }
}

impl PygParams for GatV2 {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        self.conv1.export_pyg(&format!("{prefix}conv1."), out);
        self.conv2.export_pyg(&format!("{prefix}conv2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv1.import_pyg(&format!("{prefix}conv1."), src);
        self.conv2.import_pyg(&format!("{prefix}conv2."), src);
    }
}

/// [`GatV2`] in the registry as `gatv2`, with GAT's options and protocol (Brody et al.
/// compare the two under the same settings).
#[derive(Debug, Clone, Copy)]
pub struct GatV2Spec;

impl ModelSpec for GatV2Spec {
    type Options = GatOptions;
    type Config = GatConfig;
    type Model = GatV2;

    fn name(&self) -> &'static str {
        "gatv2"
    }

    fn about(&self) -> &'static str {
        "two-layer GAT with dynamic attention, GATv2 (Brody et al. 2022)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, dataset: &str) -> Protocol<GatOptions> {
        gat_protocol(dataset)
    }

    fn config(&self, o: &GatOptions, data: &DataInfo) -> Result<GatConfig, SpecError> {
        o.config(data)
    }

    fn widths(&self, c: &GatConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &GatConfig) -> Result<(), SpecError> {
        c.check_widths(self.name())?;
        // Per layer: W_l and W_r with their biases, a, and the output bias.
        let h = Count::of(c.d_hidden) * c.heads;
        let layer = |input: Count, out: Count| (input + 2) * out * 2;
        let bound = layer(Count::of(c.d_input), h) + layer(h, Count::of(c.d_output) * c.out_heads);
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<GatConfig, SpecError> {
        let [_, heads, hidden] = dims(dict, self.name(), "conv1.att")?;
        let [_, f] = dims(dict, self.name(), "conv1.lin_l.weight")?;
        let [_, out_heads, c] = dims(dict, self.name(), "conv2.att")?;
        Ok(GatConfig::new(f, c)
            .with_d_hidden(hidden)
            .with_heads(heads)
            .with_out_heads(out_heads))
    }

    fn init(&self, c: &GatConfig, device: &Device) -> Result<GatV2, SpecError> {
        Ok(GatV2::new(c, device))
    }

    fn has_attention(&self) -> bool {
        true
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }

    fn pyg_reference(&self, c: &GatConfig, fit: &FitConfig) -> Option<Value> {
        Some(c.pyg_stack("GATv2Conv", fit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::{export_pyg, import_pyg};
    use crate::registry::Registry;
    use crate::testing::*;

    #[test]
    fn enters_through_the_registry_and_round_trips_pyg_names() {
        let d = Device::flex();
        let entry = Registry::builtin().get("gatv2").unwrap().clone();
        let data = DataInfo {
            name: "toy".into(),
            task: Task::Node,
            num_features: 6,
            featureless: false,
            num_outputs: 3,
            num_relations: 0,
            edge_dim: 0,
        };
        let (options, _) = entry.protocol("toy");
        let options = entry
            .apply(
                &options,
                &[("hidden".into(), "2".into()), ("heads".into(), "2".into())],
            )
            .unwrap();
        let config = entry.config(&options, &data).unwrap();
        let a = entry.init(&config, &d).unwrap();
        let dict = entry.export_pyg(a.as_ref()).unwrap();
        assert_eq!(entry.infer(&dict).unwrap(), config);
        assert!(dict.contains_key("conv1.lin_l.weight") && dict.contains_key("conv2.att"));

        let g = Graph::new(&[0, 1, 2, 3], &[1, 2, 3, 0], 4, &d).unwrap();
        let x: Features = tensor2(&seeded_values(4 * 6, 1), [4, 6], &d).into();
        let mut b = entry.init(&config, &d).unwrap();
        entry.import_pyg(b.as_mut(), dict).unwrap();
        let out = |m: &dyn crate::registry::DynModel| to_vec(m.forward(x.clone(), &g).unwrap());
        assert_eq!(out(a.as_ref()), out(b.as_ref()));
        // Both layers' attention, in the trace.
        let (_, trace) = crate::trace::record(&g, Default::default(), || out(a.as_ref()));
        let attention: Vec<_> = trace.steps.iter().filter(|s| s.heads > 0).collect();
        assert_eq!(attention.len(), 2);
        assert_eq!((attention[0].len(), attention[0].heads), (4 + 4, 2));

        // The typed model behind the registry's face.
        let typed = b.as_any().downcast_ref::<GatV2>().unwrap();
        let mut c = GatV2::new(&config.parse().unwrap(), &d);
        import_pyg(&mut c, export_pyg(typed)).unwrap();
        assert_eq!(
            to_vec(GraphModel::forward(&c, x.clone(), &g).unwrap()),
            out(a.as_ref())
        );
    }
}
