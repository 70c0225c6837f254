"""How each layer and op moves hidden units: one rule per module class, function and tensor method.

A rule gets a `Call` (the node, its inputs' layouts and the recorded shapes) and returns the layout of the
node's output, recording the state-dict slices a layer's weights index along the way. The registries are
plain dicts; anything missing from them raises `UnsupportedLayerError` naming the layer or op.

Arguments are read by position or by keyword alike (`self.fc(input=x)`, `torch.mean(input=x, dim=...)`):
`Call.input` and `Call.arg` map a keyword to the positional slot it names. A tensor passed by a keyword
the rule does not read (`torch.sigmoid(x, out=y)`) is refused, naming the node and the keyword.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import TensorMetadata
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.dropout import _DropoutNd
from torch.nn.modules.pooling import _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd, _AvgPoolNd, _MaxPoolNd

from .spec import UnsupportedLayerError
from .tracing import ChannelGroups, LastAxis, Layout, describe, flattened, width


def shape_of(node: object) -> torch.Size | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return meta.shape if isinstance(meta, TensorMetadata) else None


@dataclass
class Call:
    groups: ChannelGroups
    node: fx.Node
    layouts: dict[fx.Node, Layout | None]
    module: nn.Module | None = None
    read: set[str] = field(default_factory=set)  # the keywords the rule read

    @property
    def where(self) -> str:
        if self.module is not None:
            return f"layer {self.node.target!r} ({type(self.module).__name__})"
        target = getattr(self.node.target, "__name__", self.node.target)
        return f"node {self.node.name!r} ({target})"

    @property
    def shape(self) -> torch.Size | None:
        return shape_of(self.node)

    def layout(self, arg: object, last_axis: bool = False) -> Layout:
        """Layout of a tensor argument (it must be a tensor with a channel axis; one whose units lie along its
        last axis only where the rule reads such layouts, `last_axis`)."""
        layout = self.layouts.get(arg) if isinstance(arg, fx.Node) else None
        if layout is None:
            raise UnsupportedLayerError(f"{self.where}: argument {arg!r} is not a tensor with a channel axis")
        if isinstance(layout, LastAxis) and not last_axis:
            raise self.fail(f"its input {arg!r} holds hidden units along its last axis (an embedding's output); "
                            "only elementwise ops and a transpose bringing them to dim 1 are supported there")
        return layout

    def arg(self, index: int, *names: str, default: object = None) -> object:
        """Positional argument `index`, or the same slot passed by keyword under any of `names`."""
        if len(self.node.args) > index:
            return self.node.args[index]
        for name in names:
            if name in self.node.kwargs:
                return self.keyword(name)
        return default

    def keyword(self, name: str) -> object:
        """The argument passed by keyword `name`, recorded as read by the rule."""
        self.read.add(name)
        return self.node.kwargs[name]

    def input(self) -> object:
        """The tensor the layer or op is applied to: its first argument, by position or by keyword (the
        first parameter of a layer's forward, `input` for functions, `self` for tensor methods)."""
        if self.module is not None:
            name = next(iter(inspect.signature(self.module.forward).parameters), "input")
        else:
            name = "self" if self.node.op == "call_method" else "input"
        x = self.arg(0, name)
        if x is None:
            passed = ", ".join(repr(k) for k in self.node.kwargs) or "none"
            raise self.fail(f"its input is neither passed by position nor by keyword {name!r} (keywords: {passed})")
        return x

    def fail(self, why: str) -> UnsupportedLayerError:
        return UnsupportedLayerError(f"{self.where}: {why}")


# --- layers with weights -------------------------------------------------------------------------------

def linear(call: Call) -> Layout:
    x, layer = call.input(), call.module
    if len(shape_of(x)) != 2:
        raise call.fail(f"applied to a tensor of shape {tuple(shape_of(x))}; only (batch, features) is supported")
    return _affine(call, layer.in_features, layer.out_features, in_axis=1, out_axis=0)


def conv(call: Call) -> Layout:
    layer = call.module
    if layer.groups != 1:
        raise call.fail(f"grouped convolution (groups={layer.groups}) is not supported")
    in_axis, out_axis = (0, 1) if layer.transposed else (1, 0)
    return _affine(call, layer.in_channels, layer.out_channels, in_axis=in_axis, out_axis=out_axis)


def _affine(call: Call, n_in: int, n_out: int, *, in_axis: int, out_axis: int) -> Layout:
    """Weight indexed by input channels along `in_axis`, by a new group of outputs along `out_axis`."""
    name, layer = call.node.target, call.module
    x = call.layout(call.input())
    if width(x) != n_in:
        raise call.fail(f"expects {n_in} input channels, its input has layout {describe(x)}")
    out = call.groups.new(name, n_out)
    call.groups.add_members(f"{name}.weight", in_axis, x)
    call.groups.add_members(f"{name}.weight", out_axis, out)
    if layer.bias is not None:
        call.groups.add_members(f"{name}.bias", 0, out)
    return out


def embedding(call: Call) -> Layout:
    """Embedding/EmbeddingBag: the input holds token ids, not units; the embedding's dimensions are a new group,
    the weight's columns. A [batch, length] input gives [batch, length, dim] (Embedding: units on the last axis)
    or [batch, dim] (EmbeddingBag, one bag per row)."""
    name, layer = call.node.target, call.module
    if len(call.node.args) > 1 or any(k != "input" for k in call.node.kwargs):
        raise call.fail("takes offsets or per-sample weights; only a padded [batch, length] input is supported")
    call.input()
    out = call.groups.new(name, layer.embedding_dim)
    call.groups.add_members(f"{name}.weight", 1, out)
    shape = call.shape
    if shape is None or shape[-1] != layer.embedding_dim or len(shape) not in (2, 3):
        raise call.fail(f"gives shape {None if shape is None else tuple(shape)}; only [batch, dim] and "
                        "[batch, length, dim] are supported")
    return out if len(shape) == 2 else LastAxis(out)


def transpose(call: Call) -> Layout:
    """transpose(1, 2) (or permute(0, 2, 1)) of a [batch, length, features] tensor whose units lie along its
    last axis: they become the channel axis (an embedding fed to 1-D convolutions)."""
    x = call.input()
    layout, before = call.layout(x, last_axis=True), shape_of(x)
    if call.node.target == "permute":
        dims = call.node.args[1:] if len(call.node.args) > 2 else call.arg(1, "dims")
        moved = [d % 3 for d in dims] == [0, 2, 1] if len(before) == 3 and len(dims) == 3 else False
    else:
        dims = (call.arg(1, "dim0"), call.arg(2, "dim1"))
        moved = len(before) == 3 and sorted(d % 3 for d in dims) == [1, 2]
    if not (isinstance(layout, LastAxis) and moved):
        raise call.fail(f"transposes {tuple(before)} by {dims}; only moving the last axis of a [batch, length, "
                        "features] embedding to dim 1 is supported")
    return tuple(layout)


def batchnorm(call: Call) -> Layout:
    """Affine parameters and running statistics follow the input's channels."""
    x = call.layout(call.input())
    if width(x) != call.module.num_features:
        raise call.fail(f"normalises {call.module.num_features} channels, its input has layout {describe(x)}")
    for key, value in call.module.state_dict().items():
        if value.dim() == 1:  # not num_batches_tracked (a scalar)
            call.groups.add_members(f"{call.node.target}.{key}", 0, x)
    return x


# --- ops that keep, combine, concatenate or flatten channels ------------------------------------------

def keep(call: Call) -> Layout:
    """Elementwise ops, dropout, identity, pooling: each output channel is the same input channel."""
    x = call.input()
    layout, before = call.layout(x, last_axis=True), shape_of(x)
    if call.shape is None or len(call.shape) != len(before) or call.shape[1] != before[1]:
        raise call.fail(f"maps shape {tuple(before)} to {call.shape}, changing the channel axis")
    if isinstance(layout, LastAxis) and call.shape != before:
        raise call.fail(f"maps shape {tuple(before)} to {tuple(call.shape)}, changing the embedding's last axis")
    return layout


def combine(call: Call) -> Layout:
    """Sum, difference, product of tensors: channel c of each operand meets channel c of the others, so
    their groups merge (residual streams). Scalars and operands broadcast along channels do not count.
    Operands by keyword: `input` and `other` (torch.add(input=x, other=y), x.add(other=y))."""
    channels = call.shape[1] if call.shape is not None and len(call.shape) >= 2 else None
    by_keyword = [call.keyword(name) for name in ("input", "other") if name in call.node.kwargs]
    operands = [a for a in (*call.node.args, *by_keyword)
                if isinstance(a, fx.Node) and shape_of(a) is not None and len(shape_of(a)) >= 2
                and shape_of(a)[1] == channels]
    if not operands:
        raise call.fail("has no operand with the output's channels")
    return call.groups.merge([call.layout(a) for a in operands], call.where)


def concatenate(call: Call) -> Layout:
    """Along channels (DenseNet): the output's channels are the inputs' segments, in order."""
    tensors = call.arg(0, "tensors")
    dim = call.arg(1, "dim", "axis", default=0)
    ndim = len(call.shape)
    if dim % ndim == 1:
        return tuple(seg for t in tensors for seg in call.layout(t))
    return call.groups.merge([call.layout(t) for t in tensors], call.where)


def reshape(call: Call) -> Layout:
    """flatten/view/reshape: either the channel axis is untouched (only spatial dims change) or (N, C, *S)
    becomes (N, C*prod(S)), every channel a block of prod(S) features."""
    x = call.input()
    layout, before, after = call.layout(x), shape_of(x), call.shape
    if after is not None and len(after) >= 2 and after[0] == before[0]:
        if after[1] == before[1] and math.prod(after[2:]) == math.prod(before[2:]):
            return layout
        if len(after) == 2 and after[1] == math.prod(before[1:]):
            return flattened(layout, math.prod(before[2:]))
    raise call.fail(f"reshapes {tuple(before)} to {None if after is None else tuple(after)}; only flattening "
                    "(N, C, ...) into (N, C*...) or reshaping the spatial dimensions is supported")


def reduce(call: Call) -> Layout:
    """mean/sum/amax over spatial dimensions keep the channels."""
    x = call.input()
    dims = call.arg(1, "dim", "axis")
    ndim = len(shape_of(x))
    dims = [dims] if isinstance(dims, int) else dims
    if dims is None or any(d % ndim < 2 for d in dims):
        raise call.fail(f"reduces over dims {dims}; only reductions over spatial dimensions (>= 2) are supported")
    return call.layout(x)


def no_channels(call: Call) -> None:
    """Shape queries (x.size(0), x.shape, indexing a shape): the result is not a tensor."""
    if call.shape is not None:
        raise call.fail("indexing or slicing a tensor is not supported")


Rule = Callable[[Call], "Layout | None"]

ELEMENTWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh,
                       nn.Hardswish, nn.Hardtanh, nn.Softplus, nn.Identity, nn.Dropout, _DropoutNd)
POOLING_MODULES = (_MaxPoolNd, _AvgPoolNd, _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd)

MODULE_RULES: dict[type, Rule] = {
    nn.Linear: linear,
    nn.Embedding: embedding,
    nn.EmbeddingBag: embedding,
    _ConvNd: conv,
    _BatchNorm: batchnorm,
    nn.Flatten: reshape,
    **{cls: keep for cls in ELEMENTWISE_MODULES + POOLING_MODULES},
}

FUNCTION_RULES: dict[object, Rule] = {
    **{f: keep for f in (F.relu, torch.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.mish, F.hardswish,
                         torch.sigmoid, torch.tanh, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
                         F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.max_pool1d, F.max_pool2d, F.max_pool3d,
                         F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
                         F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)},
    **{f: combine for f in (operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd,
                            torch.add, torch.sub, torch.mul, torch.div)},
    **{f: concatenate for f in (torch.cat, torch.concat, torch.concatenate)},
    torch.flatten: reshape,
    torch.transpose: transpose,
    **{f: reduce for f in (torch.mean, torch.sum, torch.amax)},
    getattr: no_channels,
    operator.getitem: no_channels,
}

METHOD_RULES: dict[str, Rule] = {
    **{m: keep for m in ("relu", "relu_", "sigmoid", "tanh", "contiguous", "clone")},
    **{m: combine for m in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_")},
    **{m: reshape for m in ("view", "reshape", "flatten")},
    **{m: transpose for m in ("transpose", "permute")},
    **{m: reduce for m in ("mean", "sum", "amax")},
    **{m: no_channels for m in ("size", "dim")},
}


def apply(groups: ChannelGroups, root: nn.Module, node: fx.Node, layouts: dict[fx.Node, Layout | None]
          ) -> Layout | None:
    """Layout of `node`'s output, by the rule registered for its module class, function or method."""
    if node.op == "call_module":
        module = root.get_submodule(node.target)
        groups.called(node.target, module, node.name)
        rule = next((MODULE_RULES[c] for c in type(module).__mro__ if c in MODULE_RULES), None)
        call = Call(groups, node, layouts, module)
    elif node.op == "call_function":
        rule, call = FUNCTION_RULES.get(node.target), Call(groups, node, layouts)
    else:  # call_method
        rule, call = METHOD_RULES.get(node.target), Call(groups, node, layouts)
    if rule is None:
        raise call.fail("is not supported by weight matching (no rule for how it moves hidden units)")
    layout = rule(call)
    for name, value in node.kwargs.items():
        passed: list[fx.Node] = []
        fx.node.map_arg(value, passed.append)
        if name not in call.read and any(layouts.get(n) is not None for n in passed):
            raise call.fail(f"gets a tensor by keyword {name!r}, which weight matching does not follow "
                            "(only the input and the operands are)")
    return layout
