"""Recurrent cells: RNNCell, LSTMCell, GRUCell, one time step each, with PyTorch's weights and gate order.

Every cell holds ``weight_ih`` (gates * hidden, input), ``weight_hh`` (gates * hidden, hidden), ``bias_ih`` and
``bias_hh`` (gates * hidden), all drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Gate blocks are stacked
in PyTorch's order: LSTM (input i, forget f, cell g, output o), GRU (reset r, update z, new n).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import elementwise as E
from ..ops.shape import expand_dims, split, squeeze
from ..tensor import Tensor
from . import functional as F
from . import init
from ._helpers import check_device, expect_ndim, expect_size, float_dtype, layer_name, place, shape_of
from .module import Module, Parameter

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: Any) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((rows, input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((rows, hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dt))
            self.bias_hh = Parameter(np.empty(rows, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _batched(self, input: Any) -> tuple[Any, bool]:
        who = layer_name(self)
        shape = expect_ndim(who, "input", input, (1, 2), "(N, input_size) or unbatched (input_size,)")
        expect_size(who, "input", shape, -1, self.input_size, "last dimension (input_size)")
        return (expand_dims(input, 0), False) if len(shape) == 1 else (input, True)

    def _state(self, hx: Any, input: Any, batched: bool, name: str = "hx") -> Any:
        """The hidden state ``name`` (zeros when None) as (N, hidden_size), after checking it against the input."""
        if hx is None:
            return Tensor(np.zeros((input.shape[0], self.hidden_size), dtype=input.dtype))
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if shape_of(hx) != expected:
            layout = "(batch, hidden_size)" if batched else "(hidden_size,)"
            given = tuple(input.shape) if batched else tuple(input.shape[1:])
            raise ValueError(f"{layer_name(self)}: {name} must have shape {layout} = {expected} for an input of "
                             f"shape {given}, got {name} shape {shape_of(hx)}")
        return hx if batched else expand_dims(hx, 0)

    def _gate_inputs(self, x: Any, h: Any) -> tuple[Any, Any]:
        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(_CellBase):
    """Elman cell: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu). ``hx`` defaults to zeros.

    >>> import chainrule as cr
    >>> cell = cr.nn.RNNCell(3, 5)
    >>> cell(cr.zeros(4, 3, dtype="float32")).shape
    (4, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, batched = self._batched(input)
        h = self._state(hx, x, batched)
        gi, gh = self._gate_inputs(x, h)
        out = E.tanh(gi + gh) if self.nonlinearity == "tanh" else E.relu(gi + gh)
        return out if batched else squeeze(out, 0)


class LSTMCell(_CellBase):
    """Long short-term memory cell; ``forward(input, (h, c))`` returns ``(h', c')``::

        i, f, g, o = sigmoid(.), sigmoid(.), tanh(.), sigmoid(.)   of  x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    >>> import chainrule as cr
    >>> cell = cr.nn.LSTMCell(3, 5)
    >>> cell.weight_ih.shape
    (20, 3)
    >>> h, c = cell(cr.zeros(4, 3, dtype="float32"))
    >>> h.shape, c.shape
    ((4, 5), (4, 5))
    """

    _gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
        x, batched = self._batched(input)
        h = self._state(None if hx is None else hx[0], x, batched, "h_0")
        c = self._state(None if hx is None else hx[1], x, batched, "c_0")
        gi, gh = self._gate_inputs(x, h)
        i, f, g, o = split(gi + gh, 4, axis=-1)
        c_next = E.sigmoid(f) * c + E.sigmoid(i) * E.tanh(g)
        h_next = E.sigmoid(o) * E.tanh(c_next)
        if not batched:
            return squeeze(h_next, 0), squeeze(c_next, 0)
        return h_next, c_next


class GRUCell(_CellBase):
    """Gated recurrent unit cell::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),   z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),   h' = (1 - z) * n + z * h

    >>> import chainrule as cr
    >>> cell = cr.nn.GRUCell(3, 5)
    >>> cell.weight_hh.shape, cell(cr.zeros(3, dtype="float32")).shape
    ((15, 5), (5,))
    """

    _gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, batched = self._batched(input)
        h = self._state(hx, x, batched)
        gi, gh = self._gate_inputs(x, h)
        i_r, i_z, i_n = split(gi, 3, axis=-1)
        h_r, h_z, h_n = split(gh, 3, axis=-1)
        r = E.sigmoid(i_r + h_r)
        z = E.sigmoid(i_z + h_z)
        n = E.tanh(i_n + r * h_n)
        h_next = n + z * (h - n)
        return h_next if batched else squeeze(h_next, 0)
