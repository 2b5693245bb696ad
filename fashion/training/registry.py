"""Model registry: name -> builder plus the recipe it is trained with.

Every builder returns an uncompiled `keras.Model` mapping (N, 28, 28, 1) float32 in
[0, 1] to (N, 10) *logits*. Keeping softmax out of the graph lets the Classifier apply a
fitted temperature (calibration) and keeps the loss numerically stable; for the
tutorial nets that end in "Dense 10 softmax", training with `from_logits=True` is the
same maths.

Adding an architecture is one builder and one `@register(...)` line.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import keras
from keras import layers

from fashion.classes import INPUT_SHAPE, NUM_CLASSES


@dataclass(frozen=True)
class Recipe:
    """How a registered model is trained by default (the CLI can override any field)."""

    optimizer: str = "adam"  # "adam", "sgd" (plain) or "sgd-nesterov"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0  # decoupled, applied by the optimizer
    batch_size: int = 32  # Keras' default, which the TF tutorials rely on
    epochs: int = 10
    schedule: str = "constant"  # "constant" or "cosine" (linear warm-up, cosine decay)
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    augment: bool = False  # flip + pad-and-crop (+ random erasing, below)
    erasing: float = 0.5  # probability of random erasing per image when augmenting
    erasing_area: float = 0.25  # largest erased share of the image (the smallest is 2 %)
    erasing_fill: str = "noise"  # "noise" or "background" (black, as the dataset's)
    # "float32", "bfloat16" (mixed: bf16 activations, fp32 weights) or "auto": bfloat16
    # where the CPU has native bf16 instructions, else float32. Serving is float32 always.
    precision: str = "float32"
    source: str = ""  # where the recipe comes from


@dataclass(frozen=True)
class Entry:
    name: str
    builder: Callable[..., keras.Model]
    recipe: Recipe
    description: str
    floor: float  # the accuracy its reference reports; the shipped model must reach it
    kwargs: dict = field(default_factory=dict)

    def build(self, fused: bool = False, **overrides) -> keras.Model:
        """The model; `fused=True` asks for TF's fused batch-norm kernel (training only),
        where the builder has batch norm to fuse. `overrides` replace registered builder
        arguments (a trial variant, e.g. other widths); the builder must take them."""
        params = inspect.signature(self.builder).parameters
        unknown = set(overrides) - set(params)
        if unknown:
            raise ValueError(f"{self.name} does not take {', '.join(sorted(unknown))}")
        extra = {"fused": True} if fused and "fused" in params else {}
        return self.builder(name=self.name, **(self.kwargs | overrides), **extra)


MODELS: dict[str, Entry] = {}


def register(name: str, recipe: Recipe, description: str, floor: float, **kwargs):
    def wrap(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        MODELS[name] = Entry(name, builder, recipe, description, floor, kwargs)
        return builder

    return wrap


def get(name: str) -> Entry:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise KeyError(f"unknown model {name!r}; registered models: {known}") from None


def _input() -> keras.KerasTensor:
    return keras.Input(shape=INPUT_SHAPE, name="image")


@register(
    "flatten-128",
    Recipe(source="TensorFlow tutorial 'Basic classification' (Adam, 10 epochs, batch 32)"),
    "Flatten -> Dense 128 relu -> Dense 10: the TensorFlow beginner tutorial",
    floor=0.875,
)
def build_flatten_128(name: str = "flatten-128", units: int = 128) -> keras.Model:
    x = inputs = _input()
    x = layers.Flatten()(x)
    x = layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


@register(
    "flatten-128-64",
    Recipe(source="common two-hidden-layer MLP notebook (Adam, 10 epochs, batch 32)"),
    "Flatten -> Dense 128 relu -> Dense 64 relu -> Dense 10",
    floor=0.87,
)
def build_flatten_128_64(name: str = "flatten-128-64") -> keras.Model:
    x = inputs = _input()
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


@register(
    "dense-sgd",
    Recipe(
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=400,
        epochs=50,
        # At a constant 0.1, plain SGD's validation accuracy swings by up to 4 points
        # from one epoch to the next (measured here), so the last epoch is a lottery;
        # a cosine decay ends it on a settled model.
        schedule="cosine",
        source="per-pixel dense notebook: plain SGD, batch 400, 50 epochs (+ cosine decay)",
    ),
    "Dense 32 -> Dense 32 on each pixel -> Flatten -> Dense 128 -> Dense 10, plain SGD",
    floor=0.87,
)
def build_dense_sgd(name: str = "dense-sgd") -> keras.Model:
    # Dense on a (28, 28, 1) input acts on the last axis, i.e. on every pixel
    # independently: (N, 28, 28, 1) -> (N, 28, 28, 32).
    x = inputs = _input()
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Flatten()(x)  # (N, 25088)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


@register(
    "cnn-basic",
    Recipe(batch_size=64, epochs=10, source="classic 2-conv Keras CNN (Adam, 10 epochs, batch 64)"),
    "Conv 32 -> pool -> Conv 64 -> pool -> Dense 128 (dropout) -> Dense 10",
    floor=0.90,
)
def build_cnn_basic(name: str = "cnn-basic") -> keras.Model:
    x = inputs = _input()
    x = layers.Conv2D(32, 3, activation="relu")(x)  # (N, 26, 26, 32)
    x = layers.MaxPooling2D()(x)  # (N, 13, 13, 32)
    x = layers.Conv2D(64, 3, activation="relu")(x)  # (N, 11, 11, 64)
    x = layers.MaxPooling2D()(x)  # (N, 5, 5, 64)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


def _conv_bn_relu(x, filters: int, name: str):
    # No conv bias: BatchNorm's beta does the same job.
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_vgg_bn(
    name: str,
    width: int = 32,
    stages: int = 3,
    convs_per_stage: int = 2,
    dropout: float = 0.3,
) -> keras.Model:
    """VGG-style CNN: stages of (conv-BN-ReLU) x k then 2x2 max-pool, widths doubling,
    global average pooling, dropout, linear classifier.

    Grows by `width` (channels of the first stage) and `convs_per_stage`.
    """
    x = inputs = _input()
    for s in range(stages):
        filters = width * 2**s
        for c in range(convs_per_stage):
            x = _conv_bn_relu(x, filters, name=f"s{s}c{c}")
        if s < stages - 1:
            x = layers.MaxPooling2D(name=f"s{s}_pool")(x)  # 28 -> 14 -> 7
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


# One command, `python -m fashion train fashion-cnn`, trains this recipe: 30 epochs, ~100
# min on 2 cores, validation 0.9370 (card: benchmarks/runs/fashion-cnn-30-epochs.json).
# What the conv nets share: Nesterov SGD on a cosine schedule with warm-up, label
# smoothing, flips and shifts with random erasing. Each sets its own rates and sizes.
MODERN = Recipe(optimizer="sgd-nesterov", schedule="cosine", label_smoothing=0.1, augment=True)


# The shipped fashion-cnn is an earlier chain with validation 0.9378, so it stays: the
# same settings for 16 epochs with erasing 0.5, then short restarts without erasing
# (`train --init-from`: 6 epochs of cosine from 0.01, two of 8 epochs from 0.02), each
# kept because it raised the validation accuracy (0.9333 -> 0.9355 -> 0.9373 -> 0.9378).
# Its card's command chains all four.
register(
    "fashion-cnn",
    replace(
        MODERN,
        learning_rate=0.05,
        weight_decay=5e-4,
        batch_size=128,
        epochs=30,
        warmup_epochs=2,
        erasing=0.25,
        source="this project: VGG-BN + flip/crop/erasing + label smoothing + cosine SGD",
    ),
    "VGG-style CNN, BatchNorm, global average pooling; augmentation, cosine schedule",
    floor=0.935,
    width=32,
)(build_vgg_bn)


def _bn(fused: bool, name: str) -> layers.Layer:
    if fused:
        from fashion.training.fused_bn import FusedBatchNorm

        return FusedBatchNorm(name=name)
    return layers.BatchNormalization(name=name)


def build_resnet(
    name: str,
    widths: tuple[int, ...] = (16, 32, 64),
    blocks: int | tuple[int, ...] = 3,
    l2: float = 2.5e-4,
    fused: bool = False,
) -> keras.Model:
    """CIFAR-style ResNet (He et al. 2016) at 28x28: a 3x3 stem, then one stage per
    width of `blocks` basic blocks (two 3x3 conv-BN, identity shortcut; a strided 1x1
    conv-BN shortcut where the shape changes), global average pooling, linear classifier.

    ResNet-20 is widths (16, 32, 64) with 3 blocks; WRN-16-2 is (32, 64, 128) with 2.
    `l2` is applied to conv and dense kernels only: l2 = 2.5e-4 is the usual "weight
    decay 5e-4" of SGD (the gradient of l2 * w**2 is 2 * l2 * w), coupled to the
    momentum as in the published recipes. `fused` swaps in TF's fused batch-norm kernel
    for training (fashion/training/fused_bn.py); the weights are the same either way.
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    per_stage = (blocks,) * len(widths) if isinstance(blocks, int) else tuple(blocks)

    def conv(x, filters: int, size: int, stride: int, tag: str):
        return layers.Conv2D(
            filters,
            size,
            strides=stride,
            padding="same",
            use_bias=False,  # BatchNorm's beta does the same job
            kernel_initializer="he_normal",
            kernel_regularizer=reg,
            name=f"{tag}_conv",
        )(x)

    x = inputs = _input()
    x = conv(x, widths[0], 3, 1, "stem")
    x = layers.ReLU(name="stem_relu")(_bn(fused, "stem_bn")(x))  # (N, 28, 28, w0)
    for s, width in enumerate(widths):
        for b in range(per_stage[s]):
            tag = f"s{s}b{b}"
            stride = 2 if (s > 0 and b == 0) else 1  # 28 -> 14 -> 7
            shortcut = x
            y = conv(x, width, 3, stride, f"{tag}a")
            y = layers.ReLU(name=f"{tag}a_relu")(_bn(fused, f"{tag}a_bn")(y))
            y = _bn(fused, f"{tag}b_bn")(conv(y, width, 3, 1, f"{tag}b"))
            if stride != 1 or x.shape[-1] != width:
                shortcut = _bn(fused, f"{tag}s_bn")(conv(x, width, 1, stride, f"{tag}s"))
            x = layers.ReLU(name=f"{tag}_relu")(layers.Add(name=f"{tag}_add")([y, shortcut]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    # float32 logits even under mixed precision: bf16 has 8 significant bits, too few
    # for a loss that compares logits a few hundredths apart.
    logits = layers.Dense(NUM_CLASSES, kernel_regularizer=reg, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def zero_init_residual_branches(model: keras.Model) -> int:
    """Zero the scale (gamma) of the BatchNorm that closes each residual branch of a
    `build_resnet` model, and return how many were zeroed.

    Every block then starts as its shortcut alone, so the net begins as a shallow one
    and the high early learning rate meets a well-conditioned problem ("zero gamma",
    Goyal et al. 2017; Bag of Tricks, He et al. 2019). Training-time initialisation only:
    the architecture and the saved file are unchanged.
    """
    closing = [
        layer
        for layer in model.layers
        if isinstance(layer, layers.BatchNormalization)
        and re.fullmatch(r"s\d+b\d+b_bn", layer.name)
    ]
    if not closing:
        raise ValueError(f"{model.name} has no residual branches to zero-initialise")
    for layer in closing:
        layer.gamma.assign(keras.ops.zeros_like(layer.gamma))
    return len(closing)


# Issue 16's widest measured lead (WRN-16-2: val 95.50 %, test 95.40 %, 95.62 % with flip
# TTA after 94 epochs on a GPU), with the same recipe as resnet-20. Every channel count
# is a multiple of 32, which is where oneDNN's bf16 batch-norm kernels are fast: per
# multiply-add it trains ~1.6x faster than ResNet-20's 16-channel first stage here.
register(
    "wrn-16-2",
    replace(
        MODERN,
        learning_rate=0.1,
        weight_decay=0.0,  # the L2 penalty lives in the layers (see build_resnet)
        batch_size=256,
        epochs=72,
        warmup_epochs=3,
        erasing=0.5,
        erasing_area=0.4,
        erasing_fill="background",
        precision="auto",
        source="Zagoruyko & Komodakis 2016 WRN-16-2 + random erasing; issue 16's recipe",
    ),
    "Wide ResNet 16-2 (32/64/128 channels, 2 basic blocks per stage), random erasing, cosine SGD",
    # A regression guard at issue 16's floor: the 72-epoch run answered 95.86 % with its
    # two views, the shipped one (plus 8 epochs on photo views and outliers) 95.85 %;
    # the goal, 96 %, is not met.
    floor=0.955,
    widths=(32, 64, 128),
    blocks=2,
)(build_resnet)


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass for one image, counted over the conv and dense
    layers (batch norm, pooling, activations and additions are a few percent at most)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            out = layer.output.shape  # (None, H, W, C_out)
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            total += out[1] * out[2] * kh * kw * c_in * out[3] // layer.groups
        elif isinstance(layer, layers.Dense):
            positions = 1
            for d in layer.output.shape[1:-1]:  # a Dense on (H, W, C) acts per position
                positions *= d
            total += positions * layer.input.shape[-1] * layer.units
    return int(total)
