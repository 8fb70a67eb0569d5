//! [`clip_grad_norm`]: one optimisation step's gradients scaled together so that their joint
//! L2 norm stays under a bound.

use std::collections::HashSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Added to the norm before dividing, as torch's `clip_grad_norm_` does, so an all-zero
/// gradient is left as it is.
const EPS: f64 = 1e-6;

/// Scales every gradient in `grads` of `module`'s parameters by
///
/// `c = min(1, max_norm / (‖g‖₂ + 10⁻⁶))`,  `‖g‖₂ = (Σ_p Σ_i g_{p,i}²)^{1/2}`,
///
/// the norm running over all parameters together (torch's `clip_grad_norm_`, which PyG's
/// and DGL's R-GCN link-prediction examples apply with `max_norm = 1`): the step keeps its
/// direction and only its length is bounded. Burn's own `GradientClipping::Norm` bounds each
/// parameter's gradient on its own, which turns the direction.
///
/// The factor never leaves the device (no read-back, so no synchronisation): one squared sum
/// per parameter, one `[1]`-shaped factor, one multiplication per gradient. A parameter
/// reached twice through shared submodules counts once. Parameters without a gradient in
/// `grads` are skipped; with none at all, `grads` comes back unchanged.
pub fn clip_grad_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> GradientsParams {
    let mut sum = SquaredSum {
        grads: &grads,
        seen: HashSet::new(),
        total: None,
    };
    module.visit(&mut sum);
    let Some(total) = sum.total else {
        return grads;
    };
    let factor = total
        .sqrt()
        .add_scalar(EPS)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    module.visit(&mut Scale {
        grads: &mut grads,
        seen: HashSet::new(),
        factor,
    });
    grads
}

/// Accumulates `Σ_p Σ_i g_{p,i}²` as a `[1]` tensor.
struct SquaredSum<'a> {
    grads: &'a GradientsParams,
    seen: HashSet<ParamId>,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredSum<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

/// Multiplies each gradient by the `[1]` factor, once per parameter.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    seen: HashSet<ParamId>,
    factor: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.seen.insert(param.id) {
            return;
        }
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let c = self.factor.clone().reshape([1; D]);
            self.grads.register(param.id, g * c);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    /// Two linear layers, the second held twice (`b_again` is a clone of `b`: the same
    /// parameter ids, reached twice by a visitor).
    #[derive(Module, Debug)]
    struct Net {
        a: Linear,
        b: Linear,
        b_again: Linear,
    }

    fn net(device: &Device) -> Net {
        let b = LinearConfig::new(4, 4).init(device);
        Net {
            a: LinearConfig::new(3, 4).init(device),
            b_again: b.clone(),
            b,
        }
    }

    /// The gradients of `Σ scale · b(b(a(x)))`.
    fn grads_of(net: &Net, scale: f32, device: &Device) -> GradientsParams {
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75], [2, 3]),
            device,
        );
        let h = net.b_again.forward(net.b.forward(net.a.forward(x)));
        GradientsParams::from_grads(h.sum().mul_scalar(scale).backward(), net)
    }

    /// The joint norm, read back on the host, over every parameter id once.
    fn norm(net: &Net, grads: &GradientsParams) -> f64 {
        let host = |d: TensorData| d.try_to_vec::<f32>().unwrap();
        let bias = |l: &Linear| l.bias.as_ref().unwrap().id;
        let weights = [net.a.weight.id, net.b.weight.id].map(|id| grads.get::<2>(id));
        let biases = [bias(&net.a), bias(&net.b)].map(|id| grads.get::<1>(id));
        let weights = weights.map(|g| host(g.unwrap().into_data()));
        let biases = biases.map(|g| host(g.unwrap().into_data()));
        let squares = weights.into_iter().chain(biases).flatten();
        squares.map(|v| f64::from(v).powi(2)).sum::<f64>().sqrt()
    }

    fn values(grads: &GradientsParams, net: &Net) -> Vec<f32> {
        grads
            .get::<2>(net.a.weight.id)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn a_long_step_is_shortened_to_the_bound_in_the_same_direction() {
        let device = Device::flex().autodiff();
        let net = net(&device);
        let raw = grads_of(&net, 100.0, &device);
        let before = norm(&net, &raw);
        assert!(
            before > 2.0,
            "the test needs a norm above the bound, got {before}"
        );
        let direction = values(&raw, &net);
        let clipped = clip_grad_norm(&net, raw, 2.0);
        let after = norm(&net, &clipped);
        assert!((after - 2.0).abs() < 1e-4, "clipped norm {after}");
        let c = (2.0 / (before + EPS)) as f32;
        for (v, d) in values(&clipped, &net).iter().zip(&direction) {
            assert!(
                (v - d * c).abs() <= 1e-6 * d.abs().max(1.0),
                "{v} vs {}",
                d * c
            );
        }
    }

    #[test]
    fn a_short_step_is_left_as_it_is() {
        let device = Device::flex().autodiff();
        let net = net(&device);
        let raw = grads_of(&net, 1e-3, &device);
        let before = values(&raw, &net);
        let n = norm(&net, &raw);
        assert!(n < 1.0, "the test needs a norm below the bound, got {n}");
        let clipped = clip_grad_norm(&net, raw, 1.0);
        assert_eq!(values(&clipped, &net), before);
    }
}
