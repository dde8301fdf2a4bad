"""chainrule: backpropagation as a machine applies the chain rule, on NumPy arrays.

>>> import chainrule as cr
>>> x = cr.tensor([0.5, -1.0], requires_grad=True)
>>> cr.sigmoid(x).sum().backward()
>>> x.grad
tensor([0.23500371, 0.19661193])
"""

from .tensor import Tensor  # first: the primitive table and everything after it build on Tensor

# isort: split
from . import backend, cuda, data, engine, func, io, linalg, nn, optim, random, tree_util
from .batching import vmap
from .creation import arange, eye, full, linspace, ones, ones_like, tensor, zeros, zeros_like
from .engine import enable_grad, is_grad_enabled, no_grad
from .explain import Explanation, explain
from .expr import ExpressionError
from .graph import to_dot
from .io import SerializationError, load, save
from .ops.elementwise import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.reduce import *  # noqa: F403
from .ops.shape import *  # noqa: F403
from .primitive import Primitive, Sample
from .random import rand, randint, randn
from .testing import GradcheckError, gradcheck
from .transforms import *  # noqa: F403

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """A name chainrule does not have: say what it is called here, or the closest one it has."""
    from .spelling import missing

    error = missing("chainrule", name, globals())
    raise AttributeError(str(error).replace("'chainrule' object", "module 'chainrule'"))
