"""chainrule: backpropagation as a machine applies the chain rule, on NumPy arrays.

>>> import chainrule as cr
>>> x = cr.tensor([0.5, -1.0], requires_grad=True)
>>> cr.sigmoid(x).sum().backward()
>>> x.grad
tensor([0.23500371, 0.19661193])
"""

import numpy as _np

from .tensor import Tensor  # first: the primitive table and everything after it build on Tensor

# isort: split
from . import autograd, backend, cuda, data, distributed, engine, fft, func, io, linalg, nn, optim, random, tree_util
from .batching import vmap
from .compile import CompileError, compile
from .creation import (
    arange,
    as_tensor,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .engine import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .explain import Explanation, explain
from .expr import ExpressionError
from .graph import to_dot
from .io import SerializationError, load, save
from .ops.elementwise import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.polynomial import *  # noqa: F403
from .ops.reduce import *  # noqa: F403
from .ops.shape import *  # noqa: F403
from .ops.signal import *  # noqa: F403
from .ops.sorting import *  # noqa: F403
from .ops.statistics import *  # noqa: F403
from .primitive import Primitive, Sample
from .random import manual_seed, rand, rand_like, randint, randn, randn_like
from .spelling import as_dtype
from .testing import GradcheckError, gradcheck
from .torch_names import *  # noqa: F403
from .transforms import *  # noqa: F403

# dtypes by name (NumPy's, which every dtype= here takes, as do their names: "float32", and PyTorch's "torch.float32")
bool = _np.bool_
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64, uint8 = _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """A name chainrule does not have: say what it is called here, or the closest one it has. ``cr.scipy`` is
    imported on first use: SciPy is an optional extra."""
    if name == "scipy":
        import importlib

        return importlib.import_module("chainrule.scipy")
    from .spelling import missing

    error = missing("chainrule", name, globals())
    raise AttributeError(str(error).replace("'chainrule' object", "module 'chainrule'"))
