"""Recurrent layers with PyTorch's weights, gate order and state-dict names: the cells RNNCell, LSTMCell, GRUCell
(one time step) and the sequence layers RNN, LSTM, GRU (stacked, optionally bidirectional, LSTM with projections).

Every weight and bias is drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Gate blocks are stacked in
PyTorch's order: LSTM (input i, forget f, cell g, output o), GRU (reset r, update z, new n). A cell holds
``weight_ih`` (gates * hidden, input), ``weight_hh`` (gates * hidden, hidden), ``bias_ih`` and ``bias_hh``; a
sequence layer holds the same per layer k and direction, named ``weight_ih_l{k}`` (``..._reverse`` for the
backward direction), and ``weight_hr_l{k}`` (proj_size, hidden_size) for an LSTM with ``proj_size > 0``. Cells and
layers share one step function per kind, so they compute the same arithmetic.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ..ops import elementwise as E
from ..ops.shape import concatenate, expand_dims, split, squeeze, stack, swapaxes
from ..tensor import Tensor, bottom
from . import functional as F
from . import init
from ._helpers import check_device, expect_ndim, expect_size, float_dtype, layer_name, place, shape_of
from .module import Module, Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---- one time step, shared by the cells and the sequence layers ------------------------------------------------------
def _step(mode: str, gi: Any, gh: Any, h: Any, c: Any) -> tuple[Any, Any]:
    """The next (h, c) from the gate pre-activations ``gi = x W_ih^T + b_ih`` and ``gh = h W_hh^T + b_hh``
    (``c`` is the LSTM's cell state, None otherwise)."""
    if mode == "RNN_TANH":
        return E.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return E.relu(gi + gh), None
    if mode == "LSTM":
        i, f, g, o = split(gi + gh, 4, axis=-1)
        c_next = E.sigmoid(f) * c + E.sigmoid(i) * E.tanh(g)
        return E.sigmoid(o) * E.tanh(c_next), c_next
    i_r, i_z, i_n = split(gi, 3, axis=-1)  # GRU: the reset gate scales h W_hn^T + b_hn, so gi and gh stay apart
    h_r, h_z, h_n = split(gh, 3, axis=-1)
    r = E.sigmoid(i_r + h_r)
    z = E.sigmoid(i_z + h_z)
    n = E.tanh(i_n + r * h_n)
    return n + z * (h - n), None


def _uniform_reset(module: Module, hidden_size: int) -> None:
    """PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _zeros(shape: tuple[int, ...], like_x: Any) -> Tensor:
    """A zero state of ``like_x``'s dtype, on its device."""
    return Tensor(np.zeros_like(bottom(like_x), shape=shape))


# ---- cells ---------------------------------------------------------------------------------------------------------
class _CellBase(Module):
    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: Any) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = _GATES[self._mode] * hidden_size
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
        _uniform_reset(self, self.hidden_size)

    def _batched(self, input: Any) -> tuple[Any, bool]:
        who = layer_name(self)
        shape = expect_ndim(who, "input", input, (1, 2), "(N, input_size) or unbatched (input_size,)")
        expect_size(who, "input", shape, -1, self.input_size, "last dimension (input_size)")
        return (expand_dims(input, 0), False) if len(shape) == 1 else (input, True)

    def _state(self, hx: Any, input: Any, batched: bool, name: str = "hx") -> Any:
        """The hidden state ``name`` (zeros when None) as (N, hidden_size), after checking it against the input."""
        if hx is None:
            return _zeros((input.shape[0], self.hidden_size), input)
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if shape_of(hx) != expected:
            layout = "(batch, hidden_size)" if batched else "(hidden_size,)"
            given = tuple(input.shape) if batched else tuple(input.shape[1:])
            raise ValueError(f"{layer_name(self)}: {name} must have shape {layout} = {expected} for an input of "
                             f"shape {given}, got {name} shape {shape_of(hx)}")
        return hx if batched else expand_dims(hx, 0)

    def _cell(self, input: Any, hx: Any, cx: Any = None) -> tuple[Any, Any, bool]:
        """One step: (h', c', batched), from the input and the states (checked, zeros when None)."""
        x, batched = self._batched(input)
        h = self._state(hx, x, batched, "h_0" if self._mode == "LSTM" else "hx")
        c = self._state(cx, x, batched, "c_0") if self._mode == "LSTM" else None
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        h_next, c_next = _step(self._mode, gi, gh, h, c)
        return h_next, c_next, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


def _unbatch(t: Any, batched: bool) -> Any:
    return t if batched else squeeze(t, 0)


class RNNCell(_CellBase):
    """Elman cell: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu). ``hx`` defaults to zeros.

    >>> import chainrule as cr
    >>> cell = cr.nn.RNNCell(3, 5)
    >>> cell(cr.zeros(4, 3, dtype="float32")).shape
    (4, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        self._mode = _rnn_mode(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Any:
        h, _, batched = self._cell(input, hx)
        return _unbatch(h, batched)


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

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
        h, c, batched = self._cell(input, *((None, None) if hx is None else hx))
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(_CellBase):
    """Gated recurrent unit cell::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),   z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),   h' = (1 - z) * n + z * h

    >>> import chainrule as cr
    >>> cell = cr.nn.GRUCell(3, 5)
    >>> cell.weight_hh.shape, cell(cr.zeros(3, dtype="float32")).shape
    ((15, 5), (5,))
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Any, hx: Any = None) -> Any:
        h, _, batched = self._cell(input, hx)
        return _unbatch(h, batched)


def _rnn_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


# ---- sequence layers -------------------------------------------------------------------------------------------------
class RNNBase(Module):
    """What RNN, LSTM and GRU share: PyTorch's arguments, flat parameter names, checks, and the loop over layers,
    directions and time steps.

    Shapes (with ``batch_first=False``; ``True`` swaps the first two axes of input and output, not of the states):
    input (L, N, input_size) or unbatched (L, input_size); states (num_layers * D, N, H_out), D = 2 when
    bidirectional, H_out = proj_size or hidden_size (an LSTM's cell state keeps hidden_size). The output (L, N,
    D * H_out) holds the last layer's h at every step, the two directions concatenated (forward first); the final
    states are ordered layer by layer, forward before backward. ``dropout`` applies (in training) to every layer's
    output but the last.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        check_device(device, name)
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r} (use 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU')")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= float(dropout) <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        flags: dict[str, Any] = {"bias": bias, "batch_first": batch_first, "bidirectional": bidirectional}
        for arg, flag in flags.items():
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: {arg} should be of type bool, got: {type(flag).__name__}")
        sizes: dict[str, Any] = {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers,
                                 "proj_size": proj_size}
        for arg, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
                raise TypeError(f"{name}: {arg} should be of type int, got: {type(size).__name__}")
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be greater than zero, got "
                             f"{input_size}, {hidden_size} and {num_layers}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          UserWarning, stacklevel=3)
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = int(proj_size)
        dt = float_dtype(dtype)
        rows = _GATES[mode] * hidden_size
        out = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            features = input_size if layer == 0 else out * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes: list[tuple[str, tuple[int, ...]]] = [("weight_ih", (rows, features)),
                                                             ("weight_hh", (rows, out))]
                if bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = [kind + suffix for kind, _ in shapes]
                for (_, shape), param_name in zip(shapes, names):
                    self.register_parameter(param_name, Parameter(np.empty(shape, dtype=dt)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_reset(self, self.hidden_size)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order (w_ih, w_hh, b_ih, b_hh, w_hr)."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch compatibility (cuDNN's weight packing); there is nothing to pack here."""

    def _check_state(self, h: Any, name: str, features: int, batch: int, batched: bool) -> Any:
        """A state given by the caller, checked and shaped (num_layers * D, N, features)."""
        rows = self.num_layers * (2 if self.bidirectional else 1)
        expected = (rows, batch, features) if batched else (rows, features)
        if shape_of(h) != expected:
            layout = "(num_layers * num_directions, N, H)" if batched else "(num_layers * num_directions, H)"
            raise ValueError(f"{layer_name(self)}: expected {name} of shape {layout} = {expected} for a "
                             f"{'batched 3-d' if batched else 'unbatched 2-d'} input, got {name} shape {shape_of(h)}")
        return h if batched else expand_dims(h, 1)

    def _run(self, input: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        """(output, h_n, c_n) for the given input and initial states (None: zeros); c is the LSTM's cell state."""
        who = layer_name(self)
        shape = expect_ndim(who, "input", input, (2, 3), "(L, N, input_size) (batch_first: (N, L, input_size)) "
                            "or unbatched (L, input_size)")
        expect_size(who, "input", shape, -1, self.input_size, "last dimension (input_size)")
        batched = len(shape) == 3
        x = (swapaxes(input, 0, 1) if self.batch_first else input) if batched else expand_dims(input, 1)
        steps, batch = int(x.shape[0]), int(x.shape[1])
        if steps == 0:
            raise ValueError(f"{who}: expected a sequence of at least one step, got input shape {shape}")
        out = self.proj_size or self.hidden_size
        directions = 2 if self.bidirectional else 1
        rows = self.num_layers * directions
        lstm = self.mode == "LSTM"
        h0 = _zeros((rows, batch, out), x) if h0 is None else self._check_state(h0, "h_0", out, batch, batched)
        if lstm:
            c0 = (_zeros((rows, batch, self.hidden_size), x) if c0 is None
                  else self._check_state(c0, "c_0", self.hidden_size, batch, batched))
        # per-step lists: slicing a stacked (L, N, .) array at every step would cost a full-size gradient per step
        inputs = [x[t] for t in range(steps)]
        h_n: list[Any] = []
        c_n: list[Any] = []
        for layer in range(self.num_layers):
            per_direction = []
            for direction in range(directions):
                k = layer * directions + direction
                params = self.all_weights[k]
                w_ih, w_hh = params[0], params[1]
                b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                w_hr = params[-1] if self.proj_size else None
                h, c = h0[k], (c0[k] if lstm else None)
                outputs: list[Any] = [None] * steps
                for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                    h, c = _step(self.mode, F.linear(inputs[t], w_ih, b_ih), F.linear(h, w_hh, b_hh), h, c)
                    if w_hr is not None:
                        h = F.linear(h, w_hr)
                    outputs[t] = h
                per_direction.append(outputs)
                h_n.append(h)
                c_n.append(c)
            inputs = (per_direction[0] if directions == 1
                      else [concatenate(pair, axis=-1) for pair in zip(*per_direction)])
            if self.dropout and self.training and layer < self.num_layers - 1:
                inputs = [F.dropout(v, self.dropout, True) for v in inputs]
        output = stack(inputs, axis=0)
        h_last = stack(h_n, axis=0)
        c_last = stack(c_n, axis=0) if lstm else None
        if not batched:
            return squeeze(output, 1), squeeze(h_last, 1), (squeeze(c_last, 1) if lstm else None)
        return (swapaxes(output, 0, 1) if self.batch_first else output), h_last, c_last

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """A stack of Elman layers, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu);
    ``forward(input, h_0=None) -> (output, h_n)``. Shapes and options as ``RNNBase`` says.

    >>> import chainrule as cr
    >>> rnn = cr.nn.RNN(3, 4, num_layers=2, bidirectional=True)
    >>> list(rnn.state_dict())[:5]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse']
    >>> output, h_n = rnn(cr.zeros(5, 2, 3, dtype="float32"))
    >>> output.shape, h_n.shape
    ((5, 2, 8), (4, 2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


class LSTM(RNNBase):
    """A stack of LSTM layers (the equations of ``LSTMCell``); with ``proj_size > 0`` each step's h is projected,
    ``h_t = (o_t * tanh(c_t)) W_hr^T``, and the recurrence runs on the projection. ``forward(input, (h_0, c_0)=None)
    -> (output, (h_n, c_n))``.

    >>> import chainrule as cr
    >>> lstm = cr.nn.LSTM(3, 6, proj_size=2, batch_first=True)
    >>> [tuple(p.shape) for p in lstm.parameters()]
    [(24, 3), (24, 2), (24,), (24,), (2, 6)]
    >>> output, (h_n, c_n) = lstm(cr.zeros(4, 5, 3, dtype="float32"))
    >>> output.shape, h_n.shape, c_n.shape
    ((4, 5, 2), (1, 4, 2), (1, 4, 6))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input: Any, hx: tuple[Any, Any] | None = None) -> tuple[Any, tuple[Any, Any]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{layer_name(self)}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        output, h_n, c_n = self._run(input, *((None, None) if hx is None else hx))
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A stack of GRU layers (the equations of ``GRUCell``); ``forward(input, h_0=None) -> (output, h_n)``.

    >>> import chainrule as cr
    >>> gru = cr.nn.GRU(3, 4, num_layers=2)
    >>> gru.weight_ih_l1.shape
    (12, 4)
    >>> output, h_n = gru(cr.zeros(5, 3, dtype="float32"))
    >>> output.shape, h_n.shape
    ((5, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n
