"""Weight initialisation, in place, with PyTorch's formulas, drawing from ``cr.random.generator()``.

``cr.random.seed(n)`` therefore makes model construction repeat exactly. Every function fills its tensor under
``no_grad`` (the tensor keeps its identity and dtype) and returns it.

    xavier (Glorot):  std = gain * sqrt(2 / (fan_in + fan_out)),  uniform bound = sqrt(3) * std
    kaiming (He):     std = gain / sqrt(fan),  gain = calculate_gain(nonlinearity, a),  uniform bound = sqrt(3) * std

``fan_in = size(1) * receptive field`` and ``fan_out = size(0) * receptive field``, where the receptive field is the
product of the dimensions after the first two (a conv kernel's kh * kw).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random
from ..engine import no_grad
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2) (relu),
    sqrt(2 / (1 + slope^2)) (leaky_relu, slope ``param``, default 0.01), 3/4 (selu).

    >>> import chainrule as cr
    >>> round(cr.nn.init.calculate_gain("relu"), 4), cr.nn.init.calculate_gain("tanh")
    (1.4142, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _fill(tensor: Tensor, values: Any) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init functions fill a cr.Tensor (or cr.nn.Parameter) in place, got {type(tensor).__name__}")
    with no_grad():
        tensor[...] = np.asarray(values).astype(tensor.dtype, copy=False)
    return tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
                         f"(shape {tensor.shape})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from U(a, b).

    >>> import chainrule as cr
    >>> w = cr.nn.init.uniform_(cr.zeros(1000), -0.5, 0.5)
    >>> bool((w >= -0.5).data.all() and (w < 0.5).data.all())
    True
    """
    return _fill(tensor, random.generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std^2).

    >>> import chainrule as cr
    >>> w = cr.nn.init.normal_(cr.zeros(10000), 2.0, 0.5)
    >>> abs(float(w.mean()) - 2.0) < 0.05
    True
    """
    return _fill(tensor, random.generator().normal(mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """Fill with draws from N(mean, std^2) restricted to [a, b] (redrawing the values that fall outside).

    >>> import chainrule as cr
    >>> w = cr.nn.init.trunc_normal_(cr.zeros(1000), std=1.0, a=-1.0, b=1.0)
    >>> bool((w.abs() <= 1.0).data.all())
    True
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    gen = random.generator()
    values = gen.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = gen.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    >>> import chainrule as cr
    >>> cr.nn.init.constant_(cr.zeros(2), 0.5)
    tensor([0.5, 0.5])
    """
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    >>> import chainrule as cr
    >>> cr.nn.init.zeros_(cr.ones(2))
    tensor([0., 0.])
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    >>> import chainrule as cr
    >>> cr.nn.init.ones_(cr.zeros(2))
    tensor([1., 1.])
    """
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal), preserving the identity of linear layers.

    >>> import chainrule as cr
    >>> cr.nn.init.eye_(cr.zeros(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if tensor.ndim != 2:
        raise ValueError(f"eye_ needs a 2-dimensional tensor, got shape {tensor.shape}")
    return _fill(tensor, np.eye(tensor.shape[0], tensor.shape[1]))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta: a convolution that copies its input channels.

    >>> import chainrule as cr
    >>> w = cr.nn.init.dirac_(cr.zeros(2, 2, 3, 3))
    >>> w[0, 0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_ needs a 3, 4 or 5-dimensional tensor, got shape {tensor.shape}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            index = (g * out_per_group + d, d, *centre)
            values[index] = 1.0
    return _fill(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import chainrule as cr
    >>> w = cr.nn.init.xavier_uniform_(cr.zeros(30, 20))
    >>> bool((w.abs() <= (6 / 50) ** 0.5).data.all())
    True
    """
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> import chainrule as cr
    >>> w = cr.nn.init.xavier_normal_(cr.zeros(200, 300))
    >>> abs(float(w.std()) - (2 / 500) ** 0.5) < 0.002
    True
    """
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = ``calculate_gain(nonlinearity, a)``.

    PyTorch's Linear and Conv layers use ``a=sqrt(5)``, which gives b = 1 / sqrt(fan_in).

    >>> import math
    >>> import chainrule as cr
    >>> w = cr.nn.init.kaiming_uniform_(cr.zeros(10, 25), a=math.sqrt(5))
    >>> float(w.abs().max()) <= 1 / math.sqrt(25)
    True
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan).

    >>> import chainrule as cr
    >>> w = cr.nn.init.kaiming_normal_(cr.zeros(400, 200), nonlinearity="relu")
    >>> abs(float(w.std()) - 0.1) < 0.002
    True
    """
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a Gaussian draw (dimensions after
    the first are flattened).

    >>> import numpy as np
    >>> import chainrule as cr
    >>> q = cr.nn.init.orthogonal_(cr.zeros(3, 5)).numpy()
    >>> np.allclose(q @ q.T, np.eye(3))
    True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = random.generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # the sign convention that makes the draw uniform (Haar) over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
