//! Shared helpers for the integration tests: where the shared data and the PyG fixtures are, and
//! a reader for the fixture files (`pyg-parity-fixture/1`, see `tests/fixtures/pyg/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use gnn_models::interop::{HostTensor, PygParams, StateDict, export_pyg, import_pyg};
use safetensors::{Dtype, SafeTensors};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// `$GNN_DATA_DIR`, else `../shared/data` beside the workspace when it exists.
fn shared_data_dir() -> Option<PathBuf> {
    std::env::var_os("GNN_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(workspace_root().join("../shared/data")).filter(|d| d.is_dir()))
}

/// The [`gnn_datasets::DataRoot`] of the tests. On a named or shared copy
/// (`$GNN_DATA_DIR`, `../shared/data`) it never downloads: a missing file fails the test
/// loudly. On a fresh clone without either it is the per-user data directory, which
/// downloads what a test needs through the library's own verified path (from the canonical
/// locations, or `$GNN_DATA_MIRROR`), and says so once on stderr.
pub fn data_root() -> gnn_datasets::DataRoot {
    match shared_data_dir() {
        Some(dir) => {
            assert!(
                dir.is_dir(),
                "test data directory {} is missing: unset GNN_DATA_DIR to download the data",
                dir.display()
            );
            gnn_datasets::DataRoot::new(dir).with_download(false)
        }
        None => {
            let root = gnn_datasets::DataRoot::resolve(None);
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "test data: no GNN_DATA_DIR and no ../shared/data; using {} (downloading what is missing{})",
                    root.dir.display(),
                    root.mirror.as_deref().map(|m| format!(" from {m}")).unwrap_or_default()
                )
            });
            root
        }
    }
}

/// The fixture directory: `$GNN_PYG_FIXTURES`, else the repository's own
/// `tests/fixtures/pyg` (made by `tests/fixtures/pyg/generate.py`).
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("GNN_PYG_FIXTURES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests/fixtures/pyg"))
}

/// One tensor of a fixture: shape and values (floats widened to `f64`, ints kept as `i64`).
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureTensor {
    /// `F32` or `F64` values.
    Float(Vec<usize>, Vec<f64>),
    /// `I64` values.
    Int(Vec<usize>, Vec<i64>),
}

impl FixtureTensor {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            FixtureTensor::Float(s, _) | FixtureTensor::Int(s, _) => s,
        }
    }
}

/// A parsed fixture file.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// File stem.
    pub case: String,
    /// `layer` metadata (e.g. `GCNConv`).
    pub layer: String,
    /// Constructor options.
    pub options: serde_json::Value,
    /// Graph description.
    pub graph: serde_json::Value,
    /// Input tensor names in call order.
    pub inputs: Vec<String>,
    /// Parameter names (state_dict order).
    pub params: Vec<String>,
    /// Every tensor by name.
    pub tensors: BTreeMap<String, FixtureTensor>,
}

impl Fixture {
    /// Reads a fixture file.
    pub fn read(path: &Path) -> Result<Fixture, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (_, meta) =
            SafeTensors::read_metadata(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let md = meta.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            md.get(k)
                .cloned()
                .ok_or_else(|| format!("{}: metadata has no '{k}'", path.display()))
        };
        let json = |k: &str| -> Result<serde_json::Value, String> {
            serde_json::from_str(&get(k)?)
                .map_err(|e| format!("{}: metadata '{k}': {e}", path.display()))
        };
        if get("format")? != "pyg-parity-fixture/1" {
            return Err(format!(
                "{}: not a pyg-parity-fixture/1 file",
                path.display()
            ));
        }
        let names = |k: &str| -> Result<Vec<String>, String> {
            serde_json::from_value(json(k)?).map_err(|e| format!("{}: '{k}': {e}", path.display()))
        };
        let st =
            SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let data = view.data();
            let t = match view.dtype() {
                Dtype::F32 => FixtureTensor::Float(
                    shape,
                    data.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                        .collect(),
                ),
                Dtype::F64 => FixtureTensor::Float(
                    shape,
                    data.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                Dtype::I64 => FixtureTensor::Int(
                    shape,
                    data.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                other => {
                    return Err(format!(
                        "{}: tensor {name} has unsupported dtype {other:?}",
                        path.display()
                    ));
                }
            };
            tensors.insert(name, t);
        }
        Ok(Fixture {
            case: get("case")?,
            layer: get("layer")?,
            options: json("options")?,
            graph: json("graph")?,
            inputs: names("inputs")?,
            params: names("params")?,
            tensors,
        })
    }

    /// Every fixture (`*.safetensors`) in `dir`, sorted by case name.
    pub fn read_dir(dir: &Path) -> Result<Vec<Fixture>, String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Fixture::read(p)).collect()
    }

    /// The fixture's parameters (the `params` metadata) as a PyG state dict.
    pub fn state_dict(&self) -> Result<StateDict, String> {
        self.params
            .iter()
            .map(|name| {
                let (shape, values) = self.float(name)?;
                let t = HostTensor {
                    shape: shape.to_vec(),
                    values: values.iter().map(|&v| v as f32).collect(),
                };
                Ok((name.clone(), t))
            })
            .collect()
    }

    /// Loads the fixture's parameters into `module` through the library's PyG import
    /// (strict), then checks that exporting the module gives back exactly the fixture's
    /// names, shapes and values.
    pub fn load_params<M: PygParams>(&self, module: &mut M) -> Result<(), String> {
        let dict = self.state_dict()?;
        import_pyg(module, dict.clone()).map_err(|e| format!("import: {e}"))?;
        let back = export_pyg(module);
        if back != dict {
            let ours: Vec<(&String, &Vec<usize>)> =
                back.iter().map(|(k, t)| (k, &t.shape)).collect();
            let theirs: Vec<(&String, &Vec<usize>)> =
                dict.iter().map(|(k, t)| (k, &t.shape)).collect();
            return Err(format!(
                "export differs from the fixture's parameters: ours {ours:?}, PyG {theirs:?}"
            ));
        }
        Ok(())
    }

    /// A float tensor's shape and values.
    pub fn float(&self, name: &str) -> Result<(&[usize], &[f64]), String> {
        match self.tensors.get(name) {
            Some(FixtureTensor::Float(s, v)) => Ok((s, v)),
            Some(_) => Err(format!("{}: tensor {name} is not float", self.case)),
            None => Err(format!("{}: no tensor {name}", self.case)),
        }
    }

    /// An int tensor's shape and values.
    pub fn int(&self, name: &str) -> Result<(&[usize], &[i64]), String> {
        match self.tensors.get(name) {
            Some(FixtureTensor::Int(s, v)) => Ok((s, v)),
            Some(_) => Err(format!("{}: tensor {name} is not int", self.case)),
            None => Err(format!("{}: no tensor {name}", self.case)),
        }
    }

    /// Whether the fixture has a tensor of that name.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// A float tensor on `device` as `Tensor<D>` (values stored in f32).
    pub fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Result<Tensor<D>, String> {
        let (shape, v) = self.float(name)?;
        let dims: [usize; D] = shape.try_into().map_err(|_| {
            format!(
                "{}: {name} has rank {}, expected {D}",
                self.case,
                shape.len()
            )
        })?;
        let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        Ok(Tensor::from_data(TensorData::new(data, dims), device))
    }

    /// An int tensor on `device` (1-D).
    pub fn int_tensor(&self, name: &str, device: &Device) -> Result<Tensor<1, Int>, String> {
        let (shape, v) = self.int(name)?;
        Ok(Tensor::from_data(
            TensorData::new(v.to_vec(), [shape.iter().product::<usize>()]),
            device,
        ))
    }

    /// `options[key]` as a bool, with a default.
    pub fn opt_bool(&self, key: &str, default: bool) -> bool {
        self.options
            .get(key)
            .and_then(|v| v.as_bool())
            .unwrap_or(default)
    }

    /// `options[key]` as an integer.
    pub fn opt_usize(&self, key: &str) -> Result<usize, String> {
        self.options
            .get(key)
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
            .ok_or_else(|| format!("{}: option {key} missing", self.case))
    }

    /// The number of nodes (`x.shape[0]`, never inferred from the edges).
    pub fn num_nodes(&self) -> Result<usize, String> {
        Ok(self.float("x")?.0[0])
    }

    /// The `edge_index` rows as `(src, dst)`.
    pub fn edge_index(&self) -> Result<(Vec<i64>, Vec<i64>), String> {
        let (shape, v) = self.int("edge_index")?;
        if shape.len() != 2 || shape[0] != 2 {
            return Err(format!("{}: edge_index shape {shape:?}", self.case));
        }
        let e = shape[1];
        Ok((v[..e].to_vec(), v[e..].to_vec()))
    }
}

/// Relative error of `ours` against `reference`: `max |ours - ref| / max(max |ref|, tiny)`.
pub fn relative_error(ours: &[f64], reference: &[f64]) -> f64 {
    if ours.len() != reference.len() {
        return f64::INFINITY;
    }
    let scale = reference
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-12);
    let diff = ours.iter().zip(reference).fold(0.0f64, |m, (a, b)| {
        if (a - b).is_nan() {
            f64::INFINITY
        } else {
            m.max((a - b).abs())
        }
    });
    diff / scale
}

/// A tensor's values as `f64`.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().expect("float data")
}

/// `d loss / d param` for every parameter of `module`, under PyG's names and layouts as
/// `grad.<name>` (all zeros for a parameter the output does not depend on, as PyG reports).
pub fn param_grads<M: PygParams + Module>(
    module: &M,
    grads: &Gradients,
) -> BTreeMap<String, Vec<f64>> {
    struct ToGrad<'a>(&'a Gradients);
    impl ModuleMapper for ToGrad<'_> {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let t = p.val();
            let g = t
                .grad(self.0)
                .unwrap_or_else(|| Tensor::zeros(t.dims(), &t.device()));
            Param::from_tensor(g)
        }
    }
    let as_grads = module.clone().map(&mut ToGrad(grads));
    export_pyg(&as_grads)
        .into_iter()
        .map(|(k, t)| {
            let v = t.values.iter().map(|&x| x as f64).collect();
            (format!("grad.{k}"), v)
        })
        .collect()
}

/// `--sampler neighbor --fanout <fanouts>`.
pub fn neighbor_sampling(fanouts: &str) -> gnn_train::sampled_data::NeighborSampling {
    gnn_train::sampled_data::NeighborSampling {
        fanouts: gnn_datasets::Fanout::parse_list(fanouts).expect("a fan-out list"),
        replace: false,
        eval_fanouts: None,
    }
}

/// The one run of `gnn train --model <model> --dataset <dataset> --epochs <epochs>
/// --batch-size 256` on a generated graph (`er-…`, `sbm-…`), sampled as `sampler` says.
pub fn run_generated(
    model: &str,
    dataset: &str,
    sampler: Option<gnn_train::sampled_data::NeighborSampling>,
    epochs: usize,
) -> gnn_train::experiment::RunReport {
    use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
    use gnn_train::experiment::{ExperimentSpec, run_experiment};
    let registry = gnn_models::registry::Registry::builtin();
    let mut spec = ExperimentSpec::new(&registry, model, dataset, gnn_train::Backend::Flex)
        .expect("a registered model");
    spec.fit.epochs = epochs;
    spec.batch_size = 256;
    spec.sampler = sampler;
    let spec_of = RandomGraphSpec::parse(dataset).expect("a generated graph's name");
    let ds = gnn_train::datasets::AnyDataset::Node(random_graph(&spec_of).expect("generated"));
    let (report, _) = run_experiment(&registry, &spec, &ds, |_, _| {}).expect("training");
    report.runs.into_iter().next().expect("one run")
}

/// R-GCN + DistMult on Nations with sampled training graphs and negatives (every source of
/// randomness of link training in play), 60 epochs.
pub fn nations_sampled_spec() -> gnn_train::experiment::ExperimentSpec {
    use gnn_train::link_data::{LinkNegatives, LinkSampling};
    let registry = gnn_models::registry::Registry::builtin();
    let mut spec = gnn_train::experiment::ExperimentSpec::new(
        &registry,
        "rgcn-distmult",
        "nations",
        gnn_train::Backend::Flex,
    )
    .unwrap();
    let settings = [("hidden", "32"), ("blocks", "none"), ("bases", "4")];
    spec.set(&registry, &settings).unwrap();
    spec.fit.epochs = 60;
    spec.fit.eval_every = 30;
    spec.negatives = LinkNegatives::Sampled(4);
    spec.link_sampling = Some(LinkSampling {
        links: 600,
        graph_share: 0.5,
    });
    spec
}
