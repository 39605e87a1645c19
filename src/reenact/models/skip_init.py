"""Building a model whose weights are loaded right after, without drawing random weights first.

`nn.Conv2d`, `nn.Linear` and `nn.GRU` draw their initial weights in their constructors; a loader
that replaces every tensor next pays for those draws for nothing (~0.1 s on the default model,
~0.6-1 s on vox-256). Under `random_init_skipped()` the random initializers leave the tensors as
allocated (uninitialized memory); deterministic ones (zeros, ones, constants, the anti-aliasing
kernel) still run. A torch function mode, not the meta device: its first use on this torch imports
sympy and dynamo for a couple of ops (~0.7-3 s), more than the draws cost.

Use it only where a strict load of every parameter and buffer follows (`load_state_dict(...,
strict=True)`), so that no uninitialized value can survive.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

# the random initializers of torch.nn.init and the in-place samplers they call
_RANDOM_INIT = frozenset({
    nn.init.uniform_, nn.init.normal_, nn.init.trunc_normal_, nn.init.kaiming_uniform_,
    nn.init.kaiming_normal_, nn.init.xavier_uniform_, nn.init.xavier_normal_,
    nn.init.orthogonal_, nn.init.sparse_, Tensor.uniform_, Tensor.normal_,
})


class random_init_skipped(TorchFunctionMode):  # noqa: N801 (used as a context manager)
    """Context manager: random initializers return their tensor untouched (this thread only:
    torch function modes are thread-local)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RANDOM_INIT:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))
