//! [`DynModel`]: a model of any type behind one object-safe face. Burn's `Module` is not
//! object-safe (its visitors are generic), so the operations the training loop and model
//! files need are written once here, for every [`GraphModel`].

use std::any::Any;
use std::fmt::Debug;
use std::path::Path;

use burn::module::{Module, ParamGroup};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Gradients, Int, Tensor};

use crate::interop::{self, InteropError};
use crate::link::{Links, Missing};
use crate::{BipartiteGraph, Features, Graph, GraphError, GraphModel};

/// A model behind an object-safe face: forward, the optimiser step, weights. Every
/// [`GraphModel`] is one; `Box<dyn DynModel>` is what the registry builds and the training
/// loop trains. Downcast with [`as_any`](Self::as_any) to reach the concrete model.
pub trait DynModel: Send + Debug {
    /// [`GraphModel::forward`].
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError>;

    /// [`GraphModel::forward_train`].
    #[allow(clippy::type_complexity)]
    fn forward_train(
        &self,
        x: Features,
        graph: &Graph,
    ) -> Result<(Tensor<2>, Option<Tensor<1>>), GraphError>;

    /// [`GraphModel::block_layers`].
    fn block_layers(&self) -> usize;

    /// [`GraphModel::forward_layer`].
    fn forward_layer(
        &self,
        l: usize,
        x_src: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError>;

    /// [`GraphModel::combine_layers`].
    fn combine_layers(&self, outs: Vec<Tensor<2>>) -> Result<Tensor<2>, GraphError>;

    /// [`GraphModel::forward_blocks`].
    fn forward_blocks(
        &self,
        x: Features,
        blocks: &[BipartiteGraph],
    ) -> Option<Result<Tensor<2>, GraphError>>;

    /// [`GraphModel::score_links`].
    fn score_links(&self, z: Tensor<2>, links: &Links) -> Result<Tensor<1>, GraphError>;

    /// [`GraphModel::score_candidates`].
    fn score_candidates(
        &self,
        z: Tensor<2>,
        anchors: Tensor<1, Int>,
        rel: Option<Tensor<1, Int>>,
        missing: Missing,
    ) -> Result<Tensor<2>, GraphError>;

    /// [`GraphModel::weight_decay_group`].
    fn weight_decay_group(&self) -> Option<ParamGroup>;

    /// A copy (tensor handles are shared until written).
    fn clone_box(&self) -> Box<dyn DynModel>;

    /// The model in eval mode (Burn's `Module::valid`: no dropout, no autodiff).
    fn valid(&self) -> Box<dyn DynModel>;

    /// The model in training mode (Burn's `Module::train`).
    fn train(&self) -> Box<dyn DynModel>;

    /// The model on another device.
    fn to_device(&self, device: &Device) -> Box<dyn DynModel>;

    /// The model frozen (Burn's `Module::freeze`): no parameter takes gradients and dropout is
    /// off even on an autodiff device — for gradients with respect to inputs only.
    fn frozen(&self) -> Box<dyn DynModel>;

    /// The gradients of this model's parameters in `grads` (from a loss's `backward`).
    fn gradients(&self, grads: Gradients) -> GradientsParams;

    /// `grads` scaled together so their joint L2 norm is at most `max_norm`
    /// ([`clip_grad_norm`](super::clip_grad_norm)).
    fn clip_grad_norm(&self, grads: GradientsParams, max_norm: f64) -> GradientsParams;

    /// One optimiser step with learning rate `lr`.
    fn step(
        self: Box<Self>,
        optim: &mut ModuleOptimizer,
        lr: f64,
        grads: GradientsParams,
    ) -> Box<dyn DynModel>;

    /// Number of parameters.
    fn num_params(&self) -> usize;

    /// Writes the weights (Burn's burnpack format) atomically.
    fn save_weights(&self, path: &Path) -> Result<(), InteropError>;

    /// Loads weights written by [`save_weights`](Self::save_weights), strictly: nothing is
    /// loaded unless every tensor fits.
    fn load_weights(&mut self, path: &Path) -> Result<(), InteropError>;

    /// The concrete model, for downcasting.
    fn as_any(&self) -> &dyn Any;

    /// The concrete model, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// The concrete model, by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<M: GraphModel> DynModel for M {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        GraphModel::forward(self, x, graph)
    }

    fn forward_train(
        &self,
        x: Features,
        graph: &Graph,
    ) -> Result<(Tensor<2>, Option<Tensor<1>>), GraphError> {
        GraphModel::forward_train(self, x, graph)
    }

    fn block_layers(&self) -> usize {
        GraphModel::block_layers(self)
    }

    fn forward_layer(
        &self,
        l: usize,
        x_src: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        GraphModel::forward_layer(self, l, x_src, block)
    }

    fn combine_layers(&self, outs: Vec<Tensor<2>>) -> Result<Tensor<2>, GraphError> {
        GraphModel::combine_layers(self, outs)
    }

    fn forward_blocks(
        &self,
        x: Features,
        blocks: &[BipartiteGraph],
    ) -> Option<Result<Tensor<2>, GraphError>> {
        GraphModel::forward_blocks(self, x, blocks)
    }

    fn score_links(&self, z: Tensor<2>, links: &Links) -> Result<Tensor<1>, GraphError> {
        GraphModel::score_links(self, z, links)
    }

    fn score_candidates(
        &self,
        z: Tensor<2>,
        anchors: Tensor<1, Int>,
        rel: Option<Tensor<1, Int>>,
        missing: Missing,
    ) -> Result<Tensor<2>, GraphError> {
        GraphModel::score_candidates(self, z, anchors, rel, missing)
    }

    fn weight_decay_group(&self) -> Option<ParamGroup> {
        GraphModel::weight_decay_group(self)
    }

    fn clone_box(&self) -> Box<dyn DynModel> {
        Box::new(self.clone())
    }

    fn valid(&self) -> Box<dyn DynModel> {
        Box::new(Module::valid(self))
    }

    fn train(&self) -> Box<dyn DynModel> {
        Box::new(Module::train(self.clone()))
    }

    fn to_device(&self, device: &Device) -> Box<dyn DynModel> {
        Box::new(Module::to_device(self.clone(), device))
    }

    fn frozen(&self) -> Box<dyn DynModel> {
        Box::new(Module::freeze(self.clone()))
    }

    fn gradients(&self, grads: Gradients) -> GradientsParams {
        GradientsParams::from_grads(grads, self)
    }

    fn clip_grad_norm(&self, grads: GradientsParams, max_norm: f64) -> GradientsParams {
        super::clip_grad_norm(self, grads, max_norm)
    }

    fn step(
        self: Box<Self>,
        optim: &mut ModuleOptimizer,
        lr: f64,
        grads: GradientsParams,
    ) -> Box<dyn DynModel> {
        Box::new(optim.step(lr, *self, grads))
    }

    fn num_params(&self) -> usize {
        Module::num_params(self)
    }

    fn save_weights(&self, path: &Path) -> Result<(), InteropError> {
        interop::save_weights(self, path)
    }

    fn load_weights(&mut self, path: &Path) -> Result<(), InteropError> {
        interop::load_weights(self, path)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Clone for Box<dyn DynModel> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}
