"""Permutation groups of a network, derived from the network itself.

Hidden units can be permuted without changing what a network computes, as long as every tensor that
indexes the same units is permuted the same way; such a set of (state-dict entry, axis, slice) is a group.
We trace the model with `torch.fx`, record every tensor's shape on one example input, and follow the
channel axis (dim 1) from the input to the output (the rules per layer and op are in `rules.py`):

- a Linear/Conv output starts a new group; its weight's input axis joins the groups of its input;
- BatchNorm (weight, bias, running_mean, running_var) takes its input's groups;
- elementwise ops, dropout, identity and pooling keep the groups;
- sums and products of tensors merge the groups they combine (residual streams, union-find);
- a concatenation along channels makes the result's channels the segments of its inputs (DenseNet);
- a flatten after a conv maps channel c to the block of features c*H*W ... (c+1)*H*W - 1.

Units that reach the network's output (the logits) or come from its input are never permuted. Any layer
or op without a rule raises `UnsupportedLayerError` naming it: a model is aligned completely or not at all.
"""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from . import propagate as rules
from .refusals import refuse_shared_weights, refuse_wrapped
from .spec import PermutationSpec, UnsupportedLayerError
from .tracing import ChannelGroups, Layout

__all__ = ["permutation_spec"]


def permutation_spec(model: nn.Module, example_input: torch.Tensor) -> PermutationSpec:
    """The permutation groups of `model`, found by tracing it and running it on `example_input[:1]`.

    `model` is left untouched: it runs once in eval mode without gradients, and its train/eval flags are
    restored. Raises `UnsupportedLayerError` (naming the layer or op) for what cannot be followed, weights
    shared between modules included, and TypeError for a model wrapped in DataParallel.
    """
    refuse_wrapped(model)
    refuse_shared_weights(model)
    graph_module = _trace(model)
    _record_shapes(model, graph_module, example_input)
    groups = ChannelGroups()
    layouts: dict[fx.Node, Layout | None] = {}
    for node in graph_module.graph.nodes:
        layouts[node] = _visit(groups, graph_module, node, layouts)
    return groups.spec()


class _Tracer(fx.Tracer):
    """fx's tracer, except that a module built during forward from installed layers (the zoo's VGG runs
    `self.features[1:]`, a new Sequential) is traced through instead of failing as unknown."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.installed = {id(m) for m in model.modules()}

    def path_of_module(self, mod: nn.Module) -> str:
        if id(mod) not in self.installed:
            return f"<{type(mod).__name__} built in forward>"
        return super().path_of_module(mod)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return id(m) in self.installed and super().is_leaf_module(m, module_qualified_name)


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.GraphModule(model, _Tracer(model).trace(model), type(model).__name__)
    except Exception as err:  # fx raises many kinds (TraceError, TypeError, ...) for untraceable code
        raise UnsupportedLayerError(
            f"{type(model).__name__} cannot be traced with torch.fx ({type(err).__name__}: {err}); weight "
            "matching needs a forward without data-dependent control flow whose weights all belong to "
            "installed layers") from err


@torch.no_grad()
def _record_shapes(model: nn.Module, graph_module: fx.GraphModule, example_input: torch.Tensor) -> None:
    """Run the traced graph on one example (eval mode: BN statistics stay as they are), storing shapes."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = example_input[:1]
        ShapeProp(graph_module).propagate(x.to(param.device) if param is not None else x)
    finally:
        for m, training in flags:
            m.training = training


def _visit(groups: ChannelGroups, root: nn.Module, node: fx.Node, layouts: dict[fx.Node, Layout | None]
           ) -> Layout | None:
    if node.op == "placeholder":
        shape = rules.shape_of(node)
        if shape is None or len(shape) < 2:
            raise UnsupportedLayerError(f"input {node.name!r} is not a tensor of shape (batch, channels, ...)")
        return groups.new(node.name, shape[1], fixed=True)
    if node.op == "output":
        found: list[fx.Node] = []
        fx.node.map_arg(node.args, found.append)
        for arg in found:
            if layouts.get(arg) is not None:
                groups.fix(layouts[arg])
        return None
    if node.op == "get_attr":
        raise UnsupportedLayerError(f"node {node.name!r} reads {node.target!r} directly; only weights held by "
                                    "supported layers (Linear, Conv, BatchNorm) can be permuted")
    return rules.apply(groups, root, node, layouts)
