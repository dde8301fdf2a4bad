"""Activation modules: thin wrappers around chainrule's elementwise functions, with PyTorch's names and arguments.

The ``inplace`` arguments are accepted for compatibility and ignored: chainrule always returns a new tensor.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.shape import reshape
from ._helpers import check_device, float_dtype, layer_name, place
from .module import Module, Parameter

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "PReLU", "ReLU", "SELU", "SiLU", "Sigmoid", "Softmax",
           "Softplus", "Tanh"]


class ReLU(Module):
    """``max(x, 0)`` elementwise (relu'(0) = 0).

    >>> import chainrule as cr
    >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return E.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` for x > 0, ``negative_slope * x`` otherwise.

    >>> import chainrule as cr
    >>> cr.nn.LeakyReLU(0.1)(cr.tensor([-1.0, 2.0]))
    tensor([-0.1,  2. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return E.leaky_relu(input, negative_slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """``x`` for x > 0, ``a * x`` otherwise, with a learned slope ``weight`` (one, or one per channel: dimension 1
    of an input of two or more dimensions), starting at ``init``. The derivative at x = 0 is PyTorch's: ``a`` for x,
    0 for a.

    >>> import chainrule as cr
    >>> prelu = cr.nn.PReLU()
    >>> prelu.weight.shape, prelu(cr.tensor([-2.0, 3.0], dtype="float32")).tolist()
    ((1,), [-0.5, 3.0])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(np.full(num_parameters, init, dtype=float_dtype(dtype)))
        place(self, device)

    def reset_parameters(self) -> None:
        """Every slope back to ``init``."""
        self.weight.data[...] = self.init

    def forward(self, input: Any) -> Any:
        if self.num_parameters == 1:
            a = reshape(self.weight, ())  # one slope keeps the input's shape, a 0-d one too
        else:
            if input.ndim < 2 or input.shape[1] != self.num_parameters:
                raise ValueError(f"{layer_name(self)}: expected {self.num_parameters} channels in dimension 1 of the "
                                 f"input, got input shape {tuple(input.shape)}")
            a = reshape(self.weight, (-1,) + (1,) * (input.ndim - 2))
        return E.where(input > 0, input, a * input)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise.

    >>> import chainrule as cr
    >>> cr.nn.ELU()(cr.tensor([0.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return E.elu(input, alpha=self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """Scaled ELU with the self-normalising constants (scale 1.0507..., alpha 1.6733...).

    >>> import chainrule as cr
    >>> print(f"{float(cr.nn.SELU()(cr.tensor(1.0))):.4f}")
    1.0507
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return E.selu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """``x * Phi(x)`` (``approximate="tanh"`` for the tanh form).

    >>> import chainrule as cr
    >>> cr.nn.GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Any:
        return E.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)`` (swish).

    >>> import chainrule as cr
    >>> print(f"{float(cr.nn.SiLU()(cr.tensor(1.0))):.4f}")
    0.7311
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return E.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, stable at any magnitude.

    >>> import chainrule as cr
    >>> cr.nn.Sigmoid()(cr.tensor([0.0]))
    tensor([0.5])
    """

    def forward(self, input: Any) -> Any:
        return E.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent.

    >>> import chainrule as cr
    >>> cr.nn.Tanh()(cr.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, input: Any) -> Any:
        return E.tanh(input)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold`` (PyTorch's switch).

    >>> import chainrule as cr
    >>> print(f"{float(cr.nn.Softplus()(cr.tensor(0.0))):.4f}")
    0.6931
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Any) -> Any:
        scaled = input * self.beta if self.beta != 1 else input
        soft = E.softplus(scaled)
        if self.beta != 1:
            soft = soft / self.beta
        return E.where(scaled > self.threshold, input, soft)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _softmax_dim(dim: int | None, ndim: int, name: str) -> int:
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim`` (stable at any magnitude).

    >>> import chainrule as cr
    >>> cr.nn.Softmax(dim=-1)(cr.tensor([[0.0, 0.0]]))
    tensor([[0.5, 0.5]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return R.softmax(input, axis=_softmax_dim(self.dim, input.ndim, "softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``x - logsumexp(x)`` along ``dim`` (stable at any magnitude).

    >>> import chainrule as cr
    >>> print(f"{float(cr.nn.LogSoftmax(dim=0)(cr.tensor([0.0, 0.0]))[0]):.4f}")
    -0.6931
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return R.log_softmax(input, axis=_softmax_dim(self.dim, input.ndim, "log_softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
