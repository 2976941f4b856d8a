//! The seeded data every timing and check uses, so that what the report verifies is what it
//! times.

use crate::problem::{Conv1x1Problem, MlpconvProblem};
use crate::tensor::{AlignedBuf, seeded_uniform};

/// The seeded input, weights (Cout×Cin) and bias (empty without bias) every conv timing uses.
pub fn conv_data(p: &Conv1x1Problem) -> (AlignedBuf, AlignedBuf, AlignedBuf) {
    (seeded_uniform(p.input_len(), 1), seeded_uniform(p.weights_len(), 2), seeded_uniform(p.bias_len(), 3))
}

/// Bytes a conv kernel must move at least: input, weights, bias, output, once each.
pub fn conv_bytes(p: &Conv1x1Problem) -> f64 {
    4.0 * (p.input_len() + p.weights_len() + p.bias_len() + p.output_len()) as f64
}

/// Seed of the chain data the timings use (and the report verifies).
pub const CHAIN_SEED: u64 = 1;

/// Seeded input, weights and biases of a chain, one matrix and one bias per layer.
#[derive(Debug, Clone)]
pub struct ChainData {
    /// Input, N×C×H×W.
    pub input: AlignedBuf,
    /// Layer ℓ's Kℓ×Cℓ weights.
    pub weights: Vec<AlignedBuf>,
    /// Layer ℓ's Kℓ biases.
    pub biases: Vec<AlignedBuf>,
}

impl ChainData {
    /// Uniform values in [-1, 1) from seeds `seed`, `seed + 1`, ... (input, then per layer its
    /// weights and bias).
    pub fn seeded(p: &MlpconvProblem, seed: u64) -> Self {
        let layers: Vec<_> = p.layers().map(|l| l.expect("validated chain")).collect();
        let weights = layers.iter().zip(seed + 1..).map(|(l, s)| seeded_uniform(l.weights_len(), 2 * s)).collect();
        let biases = layers.iter().zip(seed + 1..).map(|(l, s)| seeded_uniform(l.cout, 2 * s + 1)).collect();
        Self { input: seeded_uniform(p.input_len(), seed), weights, biases }
    }

    /// The weights as slices, for [`crate::mlpconv::MlpconvKernel::prepare`].
    pub fn weight_slices(&self) -> Vec<&[f32]> {
        self.weights.iter().map(|w| &w[..]).collect()
    }

    /// The biases as slices.
    pub fn bias_slices(&self) -> Vec<&[f32]> {
        self.biases.iter().map(|b| &b[..]).collect()
    }

    /// The f64 reference of the chain on this data.
    pub fn reference(&self, p: &MlpconvProblem) -> crate::reference::Reference {
        crate::reference::mlpconv(p, &self.input, &self.weight_slices(), &self.bias_slices())
    }
}
