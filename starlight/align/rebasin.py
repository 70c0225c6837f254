"""Weight matching (Ainsworth et al., "Git Re-Basin", 2023) built on the `rebasin` package.

Hidden units of a network can be permuted without changing the function it computes.
Weight matching picks, for every group of hidden units, the permutation of model B that
makes B's weights most similar to a reference A (maximising sum_l <W_a^l, P_l W_b^l P_{l-1}^T>
by coordinate descent over the P_l, each step a linear assignment problem).

`rebasin` (0.0.47) traces the model with torchview and works out which parameters share a
permutation (a Linear's output rows, its bias, the following BatchNorm's affine parameters
and the next Linear's input columns). We keep that graph, rebasin's Permutation objects and
its loop/application code, and repair what it gets wrong:

1. BatchNorm buffers. rebasin permutes BN weight and bias but not running_mean /
   running_var, so an aligned BN model computes a different function in eval mode.
   We permute the buffers with the very Permutation object rebasin attached to the BN
   module (num_batches_tracked is a scalar and needs nothing).
2. Duplicated cost terms. rebasin's LinearPath/PathSequence.permutation_to_info extends
   each list with itself, so the first layer's terms are counted 4x and the rest 2x:
   a different objective from the paper's. We de-duplicate per (parameter, axis).
3. 1-D parameters are ignored. For biases and BN affine parameters rebasin computes
   `w_a @ w_b` of two vectors, a scalar added to every cost entry, so they do not
   influence the matching. We add the outer product instead, as in the paper.
4. Nondeterminism. The order of the coordinate updates comes from the global torch
   RNG; we draw it from a generator seeded by `seed`.
5. Side effects of tracing. torchview moves the traced model to CUDA when one is
   available; we trace deep copies and move them back to where the inputs lived.

rebasin also leaves residual streams unpermuted (it finds 11 of the 12 groups of a CIFAR
ResNet18) and cannot follow a flatten after a conv; `starlight.align` checks that every result
computes the same function, so an architecture rebasin mis-traces fails loudly instead of silently.
This method is kept for comparison with our own engine (`method="matching"`, the default).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator

import torch
from rebasin import PermutationCoordinateDescent
from rebasin.modules import ModuleBase, Permutation, PermutationInfo
from rebasin.paths import LinearPath, ParallelPaths, PathSequence
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .check import device_of
from .spec import UnsupportedLayerError

__all__ = ["rebasin_align"]

# torchview records the graph from one forward pass (eval mode, no gradients, so BN uses its running
# statistics and nothing is updated); which layers feed which does not depend on the batch size, and the
# matching reads only weights, so one example gives the same graph and permutations as a whole batch.
# Tracing is what the batch costs: a full-width CIFAR ResNet18 pair took 7.6 s of CPU (one thread) with
# the pipeline's 256 images and 1.3 s with one, of which the coordinate descent is 1.2 s either way.
TRACE_EXAMPLES = 1


def rebasin_align(
    reference: nn.Module,
    model: nn.Module,
    example_input: torch.Tensor,
    *,
    seed: int = 0,
    max_iterations: int = 100,
) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """A copy of `model` permuted onto `reference` by rebasin, and the permutations found.

    The dict maps the name of the layer that produces a group of hidden units (e.g. "net.1") to
    indices `perm` with: unit i of the aligned model is unit perm[i] of `model`, i.e.
    aligned.weight == model.weight[perm] for that layer. `reference` and `model` are left untouched.
    """
    ref_device, model_device = device_of(reference), device_of(model)
    ref, out = copy.deepcopy(reference), copy.deepcopy(model)
    matcher = _WeightMatching(ref, out, example_input[:TRACE_EXAMPLES], seed=seed)
    ref.to(ref_device)  # undo torchview's move to CUDA (parameters keep their identity)
    out.to(model_device)
    matcher.rebasin(max_iterations)
    return out, matcher.permutations()


class _WeightMatching(PermutationCoordinateDescent):
    """rebasin's coordinate descent with the cost and BN fixes described in the module doc."""

    def __init__(self, reference: nn.Module, model: nn.Module, example_input: torch.Tensor, *, seed: int):
        # logging_level=ERROR keeps rebasin silent (no prints, tqdm disabled).
        super().__init__(reference, model, example_input, logging_level=logging.ERROR)
        self._generator = torch.Generator().manual_seed(seed)
        self._modules = list(_graph_modules(self.pinit.model_graph))
        self._check_called_once()
        self._check_batchnorms_covered()

        # One entry per permutation, each (parameter, axis) counted once (fix 2).
        self._groups: list[tuple[Permutation, list[PermutationInfo]]] = []
        for perm, infos in self.pinit.model_graph.permutation_to_info:
            seen: set[tuple[int, int]] = set()
            unique = []
            for info in infos:
                key = (id(info.parameter_b), info.axis)
                if key not in seen:
                    seen.add(key)
                    unique.append(info)
            self._groups.append((perm, unique))

        # Which permutations act on which axes of each of B's parameters; used to permute
        # the "other" axes when building a cost matrix, without rebasin's deepcopies.
        self._axes: dict[int, list[tuple[int, Permutation]]] = {}
        for perm, infos in self._groups:
            for info in infos:
                self._axes.setdefault(id(info.parameter_b), []).append((info.axis, perm))

    def _check_called_once(self) -> None:
        """A layer called at two places could need two permutations of its one weight (shared weights)."""
        names = {id(m): name for name, m in self.model_b.named_modules()}
        seen: set[int] = set()
        for mod in self._modules:
            if id(mod.module_b) in seen:
                raise UnsupportedLayerError(f"layer {names[id(mod.module_b)]!r} ({type(mod.module_b).__name__}) is "
                                            "called more than once; shared weights are not supported")
            seen.add(id(mod.module_b))

    def _check_batchnorms_covered(self) -> None:
        """A BN without affine parameters is invisible to rebasin; its running stats would
        then be left unpermuted, and we cannot find its permutation in the graph."""
        in_graph = {id(m.module_b) for m in self._modules}
        for m in self.model_b.modules():
            if isinstance(m, _BatchNorm) and m.track_running_stats and id(m) not in in_graph:
                raise NotImplementedError(f"{m}: BatchNorm without affine parameters is not supported")

    def _other_axes_permuted(self, info: PermutationInfo) -> torch.Tensor:
        w = info.parameter_b.detach()
        for axis, perm in self._axes[id(info.parameter_b)]:
            if axis != info.axis:
                w = _take(w, axis, perm.perm_indices)
        return w

    def _calculate_permutations_step(self, loop: object) -> bool:
        """One sweep over all permutations in seeded random order; True if any improved."""
        progress = False
        for i in torch.randperm(len(self._groups), generator=self._generator).tolist():
            perm, infos = self._groups[i]
            n = len(perm)
            cost = torch.zeros(n, n, dtype=torch.float64)
            for info in infos:
                # Rows = this group's units; a 1-D parameter becomes an (n, 1) column, so it
                # contributes the outer product b_a b_b^T (fix 3).
                w_a = info.parameter_a.detach().moveaxis(info.axis, 0).reshape(n, -1)
                w_b = self._other_axes_permuted(info).moveaxis(info.axis, 0).reshape(n, -1)
                cost += w_a.double().cpu() @ w_b.double().cpu().T
            _, cols = linear_sum_assignment(cost.numpy(), maximize=True)
            new = torch.from_numpy(cols).long()
            rows = torch.arange(n)
            old_value = cost[rows, perm.perm_indices.cpu()].sum().item()
            gain = cost[rows, new].sum().item() - old_value
            # Only accept strict improvements: ties must not make the permutation flip-flop.
            if gain > 1e-12 * max(1.0, abs(old_value)):
                perm.perm_indices = new
                progress = True
        return progress

    @torch.no_grad()
    def apply_permutations(self) -> None:
        """rebasin permutes the parameters; we add the BN running stats (fix 1)."""
        super().apply_permutations()
        for mod in self._modules:
            bn = mod.module_b
            if isinstance(bn, _BatchNorm) and mod.output_permutation is not None:
                for name in ("running_mean", "running_var"):
                    buf = getattr(bn, name)
                    if buf is not None:
                        buf.copy_(buf[mod.output_permutation.perm_indices.to(buf.device)])
        # rebasin leaves permuted-along-axis-1 weights as non-contiguous views.
        for p in self.model_b.parameters():
            p.data = p.data.contiguous()

    def permutations(self) -> dict[str, torch.Tensor]:
        """{name of the layer producing the units: perm indices} (see rebasin_align)."""
        names = {id(m): name for name, m in self.model_b.named_modules()}
        result: dict[str, torch.Tensor] = {}
        for perm, infos in self._groups:
            producers = [i for i in infos if i.axis == 0 and i.parameter_b.dim() > 1] or infos
            result[names[id(producers[0].module.module_b)]] = perm.perm_indices.clone()
        return result


def _graph_modules(path: LinearPath | ParallelPaths | PathSequence) -> Iterator[ModuleBase]:
    """All rebasin module wrappers in a traced model graph."""
    if isinstance(path, LinearPath):
        yield from path.modules
    else:
        for sub in path.paths:
            yield from _graph_modules(sub)


def _take(w: torch.Tensor, axis: int, idx: torch.Tensor) -> torch.Tensor:
    return w.index_select(axis, idx.to(w.device))
