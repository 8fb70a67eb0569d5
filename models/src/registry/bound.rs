//! Checks of an architecture before anything is allocated for it: every width at least 1, a
//! bounded parameter count, tensor shapes read off a state dict.
//!
//! Widths can come from a hostile file (a model card, a safetensors header), so every sum and
//! product here is checked ([`Count`]).

use std::ops::{Add, Mul};

use super::error::SpecError;
use crate::interop::StateDict;

/// The most parameters a model read from a file may have (2^28, 1 GiB of `f32`).
pub const MAX_PARAMETERS: usize = 1 << 28;
/// The most message-passing, readout or propagation steps a model read from a file may take.
pub const MAX_STEPS: usize = 64;

/// A count under checked arithmetic: overflow anywhere makes the whole `None`.
///
/// `((Count::of(f) + 1) * h + (Count::of(h) + 1) * c).get()` is GCN's parameter count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(Option<usize>);

impl Count {
    /// `n`.
    pub fn of(n: usize) -> Self {
        Count(Some(n))
    }

    /// The value, `None` after an overflow.
    pub fn get(self) -> Option<usize> {
        self.0
    }
}

impl Add for Count {
    type Output = Count;
    fn add(self, rhs: Count) -> Count {
        Count(self.0.zip(rhs.0).and_then(|(a, b)| a.checked_add(b)))
    }
}

impl Add<usize> for Count {
    type Output = Count;
    fn add(self, rhs: usize) -> Count {
        self + Count::of(rhs)
    }
}

impl Mul for Count {
    type Output = Count;
    fn mul(self, rhs: Count) -> Count {
        Count(self.0.zip(rhs.0).and_then(|(a, b)| a.checked_mul(b)))
    }
}

impl Mul<usize> for Count {
    type Output = Count;
    fn mul(self, rhs: usize) -> Count {
        self * Count::of(rhs)
    }
}

impl std::iter::Sum for Count {
    fn sum<I: Iterator<Item = Count>>(iter: I) -> Count {
        iter.fold(Count::of(0), Add::add)
    }
}

/// Every width at least 1 (`d_input`, `heads`, …), else the error naming the first that is 0.
pub fn check_widths(model: &str, widths: &[(&str, usize)]) -> Result<(), SpecError> {
    match widths.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(SpecError::architecture(model, format!("{name} is 0"))),
        None => Ok(()),
    }
}

/// A parameter bound at most [`MAX_PARAMETERS`] (an overflow counts as over).
pub fn check_parameters(model: &str, bound: Count) -> Result<(), SpecError> {
    match bound.get() {
        Some(n) if n <= MAX_PARAMETERS => Ok(()),
        _ => Err(SpecError::architecture(
            model,
            format!("its widths need more than {MAX_PARAMETERS} parameters"),
        )),
    }
}

/// At most [`MAX_STEPS`] steps of `what`.
pub fn check_steps(model: &str, what: &str, steps: usize) -> Result<(), SpecError> {
    if steps > MAX_STEPS {
        return Err(SpecError::architecture(
            model,
            format!("more than {MAX_STEPS} {what}"),
        ));
    }
    Ok(())
}

/// The shape of tensor `name` of a PyG state dict of `model`, which must have `D` dimensions.
pub fn dims<const D: usize>(
    dict: &StateDict,
    model: &str,
    name: &str,
) -> Result<[usize; D], SpecError> {
    let t = dict.get(name).ok_or_else(|| {
        SpecError::StateDict(format!(
            "no tensor '{name}', so this is not a {model} state dict"
        ))
    })?;
    t.shape.as_slice().try_into().map_err(|_| {
        SpecError::StateDict(format!(
            "'{name}' has shape {:?}; expected {D} dimensions",
            t.shape
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_overflow_to_none() {
        assert_eq!(((Count::of(3) + 1) * 2).get(), Some(8));
        assert_eq!((Count::of(usize::MAX) + 1).get(), None);
        assert_eq!((Count::of(usize::MAX) * 2 + 1).get(), None);
        let total: Count = [Count::of(1), Count::of(2)].into_iter().sum();
        assert_eq!(total.get(), Some(3));
        assert!(check_parameters("m", Count::of(usize::MAX) * 2).is_err());
        assert!(check_parameters("m", Count::of(MAX_PARAMETERS)).is_ok());
        assert_eq!(
            check_widths("gcn", &[("d_input", 3), ("d_output", 0)])
                .unwrap_err()
                .to_string(),
            "gcn model: d_output is 0"
        );
    }
}
