//! tract's int8 convolution as the int8 peer (cargo feature `tract`): the layer written as one
//! ONNX `QLinearConv` (u8 activations and output, zero points 0, s8 weights with one scale per
//! output channel, i32 bias), which tract loads, optimises and runs on its int8 matrix-multiply
//! kernels.
//!
//! The scales are chosen so that tract computes our requantization: input and output scales 1,
//! weight scale of channel `co` = its multiplier `m[co]`, so that `y = clamp(round((acc +
//! bias) · m[co]), 0, 255)`. tract's own rounding of that product may differ from ours (round
//! half to even in f32) by one step: [`TractQConv::run`]'s output is compared, not required to
//! match bit for bit.

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::prelude::tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::prelude::*;

use crate::error::Result;
use crate::forward::tract_peer::{attr_ints, node, peer_error, typed_tensor, typed_value_info};
use crate::problem::QConv1x1Problem;
use crate::quant::QLayer;
use crate::tensor::Layout;

/// The peer's name in tables and JSON.
pub const NAME: &str = "tract (QLinearConv)";

/// One int8 1×1 layer, loaded, optimised and made runnable by tract.
pub struct TractQConv {
    plan: std::sync::Arc<TypedRunnableModel>,
    input_dims: [usize; 4],
    executor: Executor,
}

/// The layer as an ONNX graph of one `QLinearConv` node (opset 13).
fn onnx_model(p: &QConv1x1Problem, layer: &QLayer) -> pb::ModelProto {
    let c = p.conv();
    let mut initializer = vec![
        typed_tensor("x_scale", &[], DataType::Float, 1f32.to_le_bytes().to_vec()),
        typed_tensor("x_zero_point", &[], DataType::Uint8, vec![0]),
        typed_tensor("w", &[c.cout, c.cin, 1, 1], DataType::Int8, layer.weights.iter().map(|&w| w as u8).collect()),
        typed_tensor(
            "w_scale",
            &[c.cout],
            DataType::Float,
            layer.multipliers.iter().flat_map(|m| m.to_le_bytes()).collect(),
        ),
        typed_tensor("w_zero_point", &[c.cout], DataType::Int8, vec![0; c.cout]),
        typed_tensor("y_scale", &[], DataType::Float, 1f32.to_le_bytes().to_vec()),
        typed_tensor("y_zero_point", &[], DataType::Uint8, vec![0]),
    ];
    let mut inputs = vec!["x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point"];
    if c.bias {
        initializer.push(typed_tensor(
            "b",
            &[c.cout],
            DataType::Int32,
            layer.bias.iter().flat_map(|b| b.to_le_bytes()).collect(),
        ));
        inputs.push("b");
    }
    let attrs = vec![attr_ints("kernel_shape", &[1, 1]), attr_ints("strides", &[c.stride, c.stride])];
    pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "nin-bench".into(),
        graph: Some(pb::GraphProto {
            name: "qconv1x1".into(),
            node: vec![node("QLinearConv", &inputs, "y", attrs)],
            initializer,
            input: vec![typed_value_info("x", &c.input_dims(), DataType::Uint8)],
            output: vec![typed_value_info("y", &c.output_dims(), DataType::Uint8)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl TractQConv {
    /// `layer` on `p` (NCHW) in tract, to run on `threads` threads.
    pub fn new(p: &QConv1x1Problem, layer: &QLayer, threads: usize) -> Result<Self> {
        let c = p.conv();
        if c.layout != Layout::Nchw {
            return Err(peer_error("QLinearConv takes NCHW only"));
        }
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&onnx_model(p, layer))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(peer_error)?;
        let executor = if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        Ok(TractQConv { plan, input_dims: c.input_dims(), executor })
    }

    /// One call: the u8 output, NCHW.
    pub fn run(&self, x: &[u8]) -> Result<Vec<u8>> {
        let x = Tensor::from_shape(&self.input_dims, x).map_err(peer_error)?;
        let out =
            multithread_tract_scope(self.executor.clone(), || self.plan.run(tvec!(x.into()))).map_err(peer_error)?;
        let y = out.first().ok_or_else(|| peer_error("no output"))?;
        Ok(y.to_plain_array_view::<u8>().map_err(peer_error)?.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{QConvData, reference};

    #[test]
    fn tract_qlinearconv_is_within_one_step_of_the_integer_reference() {
        for s in ["1x19x7x6:11,u8s8,s2", "1x64x9x9:40,u8s8,nobias", "2x96x12x12:96,u8s8"] {
            let p: QConv1x1Problem = s.parse().unwrap();
            let data = QConvData::seeded(&p, 3);
            let expected = reference::qconv1x1(&p, &data.input, &data.layer);
            let y = TractQConv::new(&p, &data.layer, 1).unwrap().run(&data.input).unwrap();
            assert_eq!(y.len(), expected.out.len(), "{s}");
            let worst = y.iter().zip(&expected.out).map(|(&a, &b)| a.abs_diff(b)).max().unwrap();
            assert!(worst <= 1, "{s}: tract differs from the reference by {worst}");
        }
    }
}
