//! tract, a pure-Rust ONNX inference engine, running the same network with the same weights:
//! the whole-network peer (cargo feature `tract`).
//!
//! The crate writes the network as an ONNX graph ([`onnx_model`]) from its stages, so the layer
//! list and the weights are those of [`Network`] itself, and tract loads, optimises and runs
//! it. Caffe's ceil-rounded pooling is written as explicit end padding (which ONNX's MaxPool
//! ignores and its AveragePool, with `count_include_pad = 0`, leaves out of the divisor:
//! Caffe's rule when the padding is 0, as in every model here).
//!
//! For verification, a second graph also outputs the activation at every stage boundary, and
//! each of tract's stages is checked against the f64 reference fed tract's own input of that
//! stage ([`Network::check_outputs`]): an oracle no one here wrote, on every layer kind.

use tract_onnx::pb;
use tract_onnx::prelude::tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::prelude::*;

use super::{Network, NetworkWeights, StageOp};
use crate::error::{NinError, Result};
use crate::model::LayerKind;

/// The peer's name in tables and JSON.
pub const NAME: &str = "tract";

/// tract's version, for the report.
pub const VERSION: &str = "0.23.9";

pub(crate) fn peer_error(e: impl std::fmt::Display) -> NinError {
    NinError::Peer { peer: NAME, reason: crate::error::one_line(&format!("{e:#}")) }
}

pub(crate) fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

pub(crate) fn attr_ints(name: &str, ints: &[usize]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.iter().map(|&v| v as i64).collect(),
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[usize], data: &[f32]) -> pb::TensorProto {
    typed_tensor(name, dims, pb::tensor_proto::DataType::Float, data.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// An initializer of `data_type` from its little-endian bytes.
pub(crate) fn typed_tensor(
    name: &str,
    dims: &[usize],
    data_type: pb::tensor_proto::DataType,
    raw_data: Vec<u8>,
) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type as i32,
        raw_data,
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[usize]) -> pb::ValueInfoProto {
    typed_value_info(name, dims, pb::tensor_proto::DataType::Float)
}

/// A graph input or output of `elem_type` and shape `dims`.
pub(crate) fn typed_value_info(
    name: &str,
    dims: &[usize],
    elem_type: pb::tensor_proto::DataType,
) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let shape = pb::TensorShapeProto {
        dim: dims.iter().map(|&d| Dimension { value: Some(Value::DimValue(d as i64)), ..Default::default() }).collect(),
    };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem_type as i32,
                shape: Some(shape),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// The network as an ONNX graph (opset 13) with its weights as initializers. Its outputs are
/// the last stage's, or with `every_stage` the output of every stage that computes something
/// (an identity stage's output is its input's).
pub fn onnx_model(net: &Network, weights: &NetworkWeights, every_stage: bool) -> Result<pb::ModelProto> {
    let batch = net.batch;
    let with_batch = |d: [usize; 3]| [batch, d[0], d[1], d[2]];
    let mut nodes = Vec::new();
    let mut initializer = Vec::new();
    let mut current = "input".to_string();
    let mut outputs = Vec::new();
    let mut flat = false;
    for (s, stage) in net.stages.iter().enumerate() {
        let out = format!("stage{s}");
        let relu_after = |nodes: &mut Vec<pb::NodeProto>, pre: &str| nodes.push(node("Relu", &[pre], &out, vec![]));
        match &stage.op {
            StageOp::Identity => continue,
            StageOp::Spatial(conv) => {
                let g = conv.geometry();
                let lw = weights.layer(stage.layers.start);
                let (w, b) = (format!("{out}.w"), format!("{out}.b"));
                initializer.push(tensor(&w, &[g.cout, g.cin_group(), g.kernel, g.kernel], &lw.weights));
                initializer.push(tensor(&b, &[g.cout], &lw.bias));
                let relu = stage.layers.len() == 2;
                let conv_out = if relu { format!("{out}.conv") } else { out.clone() };
                nodes.push(node(
                    "Conv",
                    &[&current, &w, &b],
                    &conv_out,
                    vec![
                        attr_ints("kernel_shape", &[g.kernel, g.kernel]),
                        attr_ints("strides", &[g.stride, g.stride]),
                        attr_ints("pads", &[g.pad; 4]),
                        attr_int("group", g.groups as i64),
                    ],
                ));
                if relu {
                    relu_after(&mut nodes, &conv_out);
                }
            }
            StageOp::Pointwise { .. } | StageOp::Chain { .. } => {
                let mut input = current.clone();
                let mut channels = stage.input[0];
                let convs =
                    stage.layers.clone().filter(|&i| matches!(net.model.layers[i].kind, LayerKind::Conv { .. }));
                for (l, layer) in convs.enumerate() {
                    let lw = weights.layer(layer);
                    let cout = lw.bias.len();
                    let (w, b) = (format!("{out}.{l}.w"), format!("{out}.{l}.b"));
                    initializer.push(tensor(&w, &[cout, channels, 1, 1], &lw.weights));
                    initializer.push(tensor(&b, &[cout], &lw.bias));
                    let relu = layer + 1 < stage.layers.end;
                    let last = layer + 1 + relu as usize == stage.layers.end;
                    let conv = if last && !relu { out.clone() } else { format!("{out}.{l}.conv") };
                    nodes.push(node("Conv", &[&input, &w, &b], &conv, vec![attr_ints("kernel_shape", &[1, 1])]));
                    input = conv;
                    if relu {
                        let post = if last { out.clone() } else { format!("{out}.{l}.relu") };
                        nodes.push(node("Relu", &[&input], &post, vec![]));
                        input = post;
                    }
                    channels = cout;
                }
            }
            StageOp::Pool(pool) => {
                // Caffe's ceil rounding as explicit end padding: the last window may overhang.
                let extra =
                    |len: usize, out: usize| ((out - 1) * pool.stride + pool.kernel).saturating_sub(len + 2 * pool.pad);
                let (eh, ew) = (extra(pool.h, pool.hout()), extra(pool.w, pool.wout()));
                // Caffe's divisor counts the padding but not the overhang past it: one ONNX
                // AveragePool says the one (count_include_pad = 1) or the other (0), not both.
                if pool.average && pool.pad > 0 && eh + ew > 0 {
                    return Err(NinError::Peer {
                        peer: NAME,
                        reason: format!(
                            "{}: average pooling with padding whose last window overhangs the padding has no ONNX equivalent",
                            stage.name
                        ),
                    });
                }
                let mut attrs = vec![
                    attr_ints("kernel_shape", &[pool.kernel, pool.kernel]),
                    attr_ints("strides", &[pool.stride, pool.stride]),
                    attr_ints("pads", &[pool.pad, pool.pad, pool.pad + eh, pool.pad + ew]),
                ];
                if pool.average {
                    attrs.push(attr_int("count_include_pad", (pool.pad > 0) as i64));
                }
                nodes.push(node(if pool.average { "AveragePool" } else { "MaxPool" }, &[&current], &out, attrs));
            }
            StageOp::Lrn { size } => nodes.push(node(
                "LRN",
                &[&current],
                &out,
                vec![
                    attr_int("size", *size as i64),
                    attr_float("alpha", super::ops::LRN_ALPHA),
                    attr_float("beta", super::ops::LRN_BETA),
                    attr_float("bias", super::ops::LRN_K),
                ],
            )),
            StageOp::Fc(fc) => {
                let lw = weights.layer(stage.layers.start);
                let inputs = stage.input.iter().product::<usize>();
                let (w, b) = (format!("{out}.w"), format!("{out}.b"));
                initializer.push(tensor(&w, &[fc.outputs(), inputs], &lw.weights));
                initializer.push(tensor(&b, &[fc.outputs()], &lw.bias));
                let flat = format!("{out}.flat");
                nodes.push(node("Flatten", &[&current], &flat, vec![attr_int("axis", 1)]));
                let gemm_out = if stage.layers.len() == 2 { format!("{out}.gemm") } else { out.clone() };
                nodes.push(node("Gemm", &[&flat, &w, &b], &gemm_out, vec![attr_int("transB", 1)]));
                if stage.layers.len() == 2 {
                    relu_after(&mut nodes, &gemm_out);
                }
            }
            StageOp::Gap { .. } => nodes.push(node("GlobalAveragePool", &[&current], &out, vec![])),
            StageOp::Relu => nodes.push(node("Relu", &[&current], &out, vec![])),
            StageOp::Softmax => {
                // After a fully-connected layer the tensor is N × classes; after GAP, N×C×1×1.
                nodes.push(node("Softmax", &[&current], &out, vec![attr_int("axis", 1)]));
            }
        }
        // Gemm's output (and a ReLU's or softmax's after it) is N × out, not N × out × 1 × 1.
        match stage.op {
            StageOp::Fc(_) => flat = true,
            StageOp::Relu | StageOp::Softmax => {}
            _ => flat = false,
        }
        let dims: Vec<usize> = if flat { vec![batch, stage.output[0]] } else { with_batch(stage.output).to_vec() };
        outputs.push(value_info(&out, &dims));
        current = out;
    }
    let declared: Vec<pb::ValueInfoProto> =
        if every_stage { outputs } else { outputs.into_iter().filter(|o| o.name == current).collect() };
    Ok(pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "nin-bench".into(),
        graph: Some(pb::GraphProto {
            name: net.model.name.into(),
            node: nodes,
            initializer,
            input: vec![value_info("input", &with_batch(net.model.input))],
            output: declared,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The values of an f32 tensor, in its (C) order.
fn values(t: &TValue) -> Result<Vec<f32>> {
    Ok(t.to_plain_array_view::<f32>().map_err(peer_error)?.iter().copied().collect())
}

/// A network loaded, optimised and made runnable by tract.
pub struct TractNetwork {
    plan: std::sync::Arc<TypedRunnableModel>,
    input_dims: [usize; 4],
    /// Stage indices whose outputs the plan returns, in order.
    stage_outputs: Vec<usize>,
    stages: usize,
    executor: Executor,
}

impl TractNetwork {
    /// Builds `net` (with `weights`) in tract, to run on `threads` threads; with
    /// `every_stage`, the plan returns every stage's output (for [`Self::run_every_stage`]).
    pub fn new(net: &Network, weights: &NetworkWeights, threads: usize, every_stage: bool) -> Result<Self> {
        let proto = onnx_model(net, weights, every_stage)?;
        let plan = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(peer_error)?;
        let [c, h, w] = net.model.input;
        let stage_outputs = if every_stage {
            net.stages.iter().enumerate().filter(|(_, s)| !matches!(s.op, StageOp::Identity)).map(|(i, _)| i).collect()
        } else {
            vec![net.stages.len() - 1]
        };
        let executor = if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        Ok(Self { plan, input_dims: [net.batch, c, h, w], stage_outputs, stages: net.stages.len(), executor })
    }

    fn run_raw(&self, input: &[f32]) -> Result<TVec<TValue>> {
        let x = Tensor::from_shape(&self.input_dims, input).map_err(peer_error)?;
        multithread_tract_scope(self.executor.clone(), || self.plan.run(tvec!(x.into()))).map_err(peer_error)
    }

    /// One pass; returns the network's output.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let out = self.run_raw(input)?;
        let last = out.last().ok_or_else(|| peer_error("no output"))?;
        values(last)
    }

    /// One pass of a plan built with `every_stage`: every stage's output, identity stages
    /// repeating their input.
    pub fn run_every_stage(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        let out = self.run_raw(input)?;
        let mut computed = self.stage_outputs.iter().zip(out.iter());
        let mut all: Vec<Vec<f32>> = Vec::with_capacity(self.stages);
        for s in 0..self.stages {
            match computed.clone().next() {
                Some((&i, v)) if i == s => {
                    computed.next();
                    all.push(values(v)?);
                }
                _ => all.push(all.last().cloned().unwrap_or_else(|| input.to_vec())),
            }
        }
        Ok(all)
    }
}
