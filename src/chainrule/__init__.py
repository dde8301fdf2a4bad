"""chainrule: backpropagation as a machine applies the chain rule, on NumPy arrays.

>>> import chainrule as cr
>>> x = cr.tensor([0.5, -1.0], requires_grad=True)
>>> cr.sigmoid(x).sum().backward()
>>> x.grad
tensor([0.23500371, 0.19661193])
"""

from . import engine, linalg, random
from .creation import arange, eye, full, linspace, ones, ones_like, tensor, zeros, zeros_like
from .engine import enable_grad, is_grad_enabled, no_grad
from .ops.elementwise import (
    abs,
    absolute,
    add,
    arccos,
    arcsin,
    arctan,
    arctan2,
    astype,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    elu,
    equal,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    gelu,
    greater,
    greater_equal,
    isfinite,
    isinf,
    isnan,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    log_sigmoid,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    reciprocal,
    relu,
    remainder,
    round,
    selu,
    sigmoid,
    sign,
    silu,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    where,
)
from .ops.linalg import matmul
from .ops.reduce import mean, sum
from .ops.shape import broadcast_to, getitem, reshape, transpose
from .primitive import Primitive, Sample
from .random import rand, randint, randn
from .tensor import Tensor
from .testing import GradcheckError, gradcheck

__version__ = "0.1.0"
