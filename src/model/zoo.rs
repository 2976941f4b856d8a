//! The models of docs/architecture.md, as their Caffe definitions give them.
//!
//! - `nin-cifar10`: the NIN of the paper's CIFAR-10 experiments (Caffe model zoo), 32×32 input,
//!   three mlpconv blocks (a 5×5, 5×5, 3×3 convolution, each followed by two 1×1 "cccp"
//!   layers), the last emitting 10 maps of 8×8 that global average pooling turns into scores.
//! - `nin-imagenet`: the 4-layer NIN of the paper's ImageNet model (Caffe model zoo
//!   `nin_imagenet`), 224×224 input, ending in 1000 maps of 6×6 and global average pooling.
//! - `alexnet`: Caffe's reference AlexNet (`bvlc_alexnet`), 227×227 input, with the original
//!   two-group convolutions, LRN, and the three fully-connected layers NIN's head replaces.
//!
//! Each ends in the softmax (`prob`) of its deploy definition.

use super::{Layer, LayerKind, Model};

const fn conv(name: &'static str, out: usize, kernel: usize, stride: usize, pad: usize) -> Layer {
    Layer { name, kind: LayerKind::Conv { out, kernel, stride, pad, groups: 1 } }
}
const fn grouped(name: &'static str, out: usize, kernel: usize, pad: usize, groups: usize) -> Layer {
    Layer { name, kind: LayerKind::Conv { out, kernel, stride: 1, pad, groups } }
}
const fn cccp(name: &'static str, out: usize) -> Layer {
    conv(name, out, 1, 1, 0)
}
const fn relu(name: &'static str) -> Layer {
    Layer { name, kind: LayerKind::Relu }
}
const fn max_pool(name: &'static str, kernel: usize, stride: usize) -> Layer {
    Layer { name, kind: LayerKind::MaxPool { kernel, stride, pad: 0 } }
}
const fn avg_pool(name: &'static str, kernel: usize, stride: usize) -> Layer {
    Layer { name, kind: LayerKind::AvgPool { kernel, stride, pad: 0 } }
}
const fn dropout(name: &'static str) -> Layer {
    Layer { name, kind: LayerKind::Dropout }
}
const fn softmax(name: &'static str) -> Layer {
    Layer { name, kind: LayerKind::Softmax }
}
const fn fc(name: &'static str, out: usize) -> Layer {
    Layer { name, kind: LayerKind::FullyConnected { out } }
}

/// NIN for CIFAR-10 (32×32×3 input, 10 classes).
pub fn nin_cifar10() -> Model {
    Model {
        name: "nin-cifar10",
        input: [3, 32, 32],
        layers: vec![
            conv("conv1", 192, 5, 1, 2),
            relu("relu1"),
            cccp("cccp1", 160),
            relu("relu_cccp1"),
            cccp("cccp2", 96),
            relu("relu_cccp2"),
            max_pool("pool1", 3, 2),
            dropout("drop3"),
            conv("conv2", 192, 5, 1, 2),
            relu("relu2"),
            cccp("cccp3", 192),
            relu("relu_cccp3"),
            cccp("cccp4", 192),
            relu("relu_cccp4"),
            avg_pool("pool2", 3, 2),
            dropout("drop6"),
            conv("conv3", 192, 3, 1, 1),
            relu("relu3"),
            cccp("cccp5", 192),
            relu("relu_cccp5"),
            cccp("cccp6", 10),
            relu("relu_cccp6"),
            Layer { name: "pool3", kind: LayerKind::GlobalAvgPool },
            softmax("prob"),
        ],
    }
}

/// NIN for ImageNet (224×224×3 input, 1000 classes), four mlpconv blocks.
pub fn nin_imagenet() -> Model {
    Model {
        name: "nin-imagenet",
        input: [3, 224, 224],
        layers: vec![
            conv("conv1", 96, 11, 4, 0),
            relu("relu0"),
            cccp("cccp1", 96),
            relu("relu1"),
            cccp("cccp2", 96),
            relu("relu2"),
            max_pool("pool0", 3, 2),
            conv("conv2", 256, 5, 1, 2),
            relu("relu3"),
            cccp("cccp3", 256),
            relu("relu5"),
            cccp("cccp4", 256),
            relu("relu6"),
            max_pool("pool2", 3, 2),
            conv("conv3", 384, 3, 1, 1),
            relu("relu7"),
            cccp("cccp5", 384),
            relu("relu8"),
            cccp("cccp6", 384),
            relu("relu9"),
            max_pool("pool3", 3, 2),
            dropout("drop"),
            conv("conv4-1024", 1024, 3, 1, 1),
            relu("relu10"),
            cccp("cccp7-1024", 1024),
            relu("relu11"),
            cccp("cccp8-1024", 1000),
            relu("relu12"),
            Layer { name: "pool4", kind: LayerKind::GlobalAvgPool },
            softmax("prob"),
        ],
    }
}

/// Caffe's reference AlexNet (227×227×3 input, 1000 classes), grouped as on two GPUs.
pub fn alexnet() -> Model {
    Model {
        name: "alexnet",
        input: [3, 227, 227],
        layers: vec![
            conv("conv1", 96, 11, 4, 0),
            relu("relu1"),
            Layer { name: "norm1", kind: LayerKind::Lrn { size: 5 } },
            max_pool("pool1", 3, 2),
            grouped("conv2", 256, 5, 2, 2),
            relu("relu2"),
            Layer { name: "norm2", kind: LayerKind::Lrn { size: 5 } },
            max_pool("pool2", 3, 2),
            conv("conv3", 384, 3, 1, 1),
            relu("relu3"),
            grouped("conv4", 384, 3, 1, 2),
            relu("relu4"),
            grouped("conv5", 256, 3, 1, 2),
            relu("relu5"),
            max_pool("pool5", 3, 2),
            fc("fc6", 4096),
            relu("relu6"),
            dropout("drop6"),
            fc("fc7", 4096),
            relu("relu7"),
            dropout("drop7"),
            fc("fc8", 1000),
            softmax("prob"),
        ],
    }
}

/// Every model, in the order of docs/architecture.md.
pub fn models() -> Vec<Model> {
    vec![nin_cifar10(), nin_imagenet(), alexnet()]
}

/// The model called `name`, or an error listing the known ones.
pub fn model(name: &str) -> crate::Result<Model> {
    models().into_iter().find(|m| m.name == name).ok_or_else(|| crate::NinError::Shape {
        what: format!("model '{name}'"),
        reason: format!("unknown; known models: {}", models().iter().map(|m| m.name).collect::<Vec<_>>().join(", ")),
    })
}
