//! Helpers shared by the unit tests of this crate.

use burn::tensor::{Device, Int, Tensor, TensorData};

/// The CPU devices every primitive is checked on.
pub fn cpu_devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

/// The devices the fused kernels serve: the CPU devices and, built with the `wgpu` feature,
/// the default wgpu device (Mesa's software Vulkan on a machine without a GPU).
pub fn kernel_devices() -> Vec<Device> {
    cpu_devices().into_iter().chain(gpu_devices()).collect()
}

/// The GPU devices of this build: the default wgpu device with the `wgpu` feature (Mesa's
/// software Vulkan on a machine without a GPU) and CUDA device 0 with `cuda`.
pub fn gpu_devices() -> Vec<Device> {
    [
        #[cfg(feature = "wgpu")]
        Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        Device::cuda(0),
    ]
    .into_iter()
    .collect()
}

/// A rayon pool of `threads` threads, for tests that compare results across thread counts.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// `n` deterministic pseudo-random values in `[-1, 1)` (distinct with high probability).
pub fn seeded_values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn tensor1(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

pub fn tensor2(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

pub fn int1(v: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    Tensor::from_data(TensorData::new(data, [v.len()]), device)
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

pub fn x_device<const D: usize>(x: &Tensor<D>) -> Device {
    x.device()
}

/// Asserts `|a - b| <= tol * max(1, max |b|)` element-wise.
pub fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}: element {i}: {x} vs {y} (tol {})",
            tol * scale
        );
    }
}

/// Checks the autodiff gradient of `L(x) = Σ f(x) ⊙ R` (R fixed, random) against central
/// finite differences on the plain device.
pub fn check_gradient(
    name: &str,
    values: &[f32],
    shape: [usize; 2],
    f: impl Fn(Tensor<2>) -> Tensor<2>,
) {
    let plain = Device::flex();
    let auto = plain.clone().autodiff();
    let out_dims = f(tensor2(values, shape, &plain)).dims();
    let r = seeded_values(out_dims[0] * out_dims[1], 99);
    let loss = |x: Tensor<2>| -> Tensor<1> {
        let d = x.device();
        (f(x) * tensor2(&r, out_dims, &d)).sum()
    };
    let x = tensor2(values, shape, &auto).require_grad();
    let grads = loss(x.clone()).backward();
    let analytic = to_vec(x.grad(&grads).expect("gradient reaches the input"));

    let eps = 1e-2f32;
    let numeric: Vec<f32> = (0..values.len())
        .map(|i| {
            let mut plus = values.to_vec();
            let mut minus = values.to_vec();
            plus[i] += eps;
            minus[i] -= eps;
            let lp = to_vec(loss(tensor2(&plus, shape, &plain)))[0];
            let lm = to_vec(loss(tensor2(&minus, shape, &plain)))[0];
            (lp - lm) / (2.0 * eps)
        })
        .collect();
    assert_close(&analytic, &numeric, 2e-3, &format!("{name} gradient"));
}
