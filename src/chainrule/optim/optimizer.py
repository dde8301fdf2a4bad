"""The optimizer base: parameter groups, per-parameter state, ``zero_grad``, ``step`` and resumable state dicts.

An optimizer holds ``param_groups`` (dicts: ``"params"`` plus that group's hyper-parameters, defaults filled in) and
``state`` (a dict per parameter: step counts and moment buffers). ``step()`` updates every parameter that has a
``.grad`` in place, under ``cr.no_grad()``; the buffers are Tensors of the parameter's dtype, so float32 training
stays float32 throughout. ``state_dict()`` follows PyTorch's layout, parameters numbered in group order.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import backend
from ..engine import enable_grad, no_grad
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]
StateDict = dict[str, Any]


class Optimizer:
    """Base class of all optimizers: subclasses define the update of one parameter group, ``_update(group)``.

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.5)
    >>> (w * w).sum().backward()          # grad = 2w
    >>> opt.step()                        # w <- w - 0.5 * 2w
    >>> w
    tensor([0., 0.], requires_grad=True)
    >>> opt.zero_grad(); w.grad is None
    True
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._validate(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor: "
                "pass [tensor] or model.parameters()"
            )
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- hyper-parameters ---------------------------------------------------------------------------------------
    _takes_complex = False  # an update linear in the gradient (SGD's) is right for complex parameters as it is

    def _validate(self, group: dict[str, Any]) -> None:
        """Raise a ValueError naming the first invalid hyper-parameter of ``group`` (subclasses extend this)."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones taken from ``defaults``).

        >>> import chainrule as cr
        >>> from chainrule.optim import SGD
        >>> a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
        >>> opt = SGD([a], lr=0.1, momentum=0.9)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [(g["lr"], g["momentum"]) for g in opt.param_groups]
        [(0.1, 0.9), (0.01, 0.9)]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
                "sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            params = [p[1] for p in params]
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor: optimize the leaves it was computed from")
            if p.dtype.kind == "c" and not self._takes_complex:
                raise TypeError(f"{type(self).__name__} on a complex parameter: its update squares or dots the "
                                "gradient, which for complex numbers needs their real view; use SGD, or keep the "
                                "real and imaginary parts as two real parameters")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        for name, value in group.items():
            if name != "params":
                group[name] = _setting(name, value)
        self._validate(group)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names")
        self.param_groups.append(group)

    # ---- the update -----------------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``p.grad = None`` (default), or fill it with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.is_leaf:
                    with no_grad():
                        p.grad[...] = 0
                else:  # a gradient recorded under create_graph: cut it from its graph
                    p.grad = Tensor(np.zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (re-evaluating the loss) is called first.

        Returns the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update(group)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update(group) (or override step)")

    @staticmethod
    def _grads(group: dict[str, Any]) -> Iterable[tuple[Tensor, np.ndarray[Any, Any]]]:
        """Each parameter of ``group`` that has a gradient, with that gradient as an array of its dtype."""
        for p in group["params"]:
            if p.grad is None:
                continue
            g = p.grad.data
            if g.dtype != p.data.dtype:
                g = g.astype(p.data.dtype)
            if group.get("maximize", False):
                g = -g
            yield p, g

    @staticmethod
    def _buffer(p: Tensor, fill: float = 0.0) -> Tensor:
        """A state buffer shaped and typed like ``p``."""
        return Tensor(np.full_like(p.data, fill))

    @staticmethod
    def _counter(count: float = 0) -> Tensor:
        """A step count: a 0-d float64 tensor (as PyTorch keeps it), counted in place, so that a compiled training
        step (cr.compile) counts at every replay instead of repeating the count it was traced with."""
        return Tensor(np.array(count, dtype=np.float64))

    @staticmethod
    def _count(state: dict[str, Any]) -> Any:
        """``state["step"] += 1``; the count after it (a 0-d array)."""
        step = state["step"].data
        step += 1
        return step

    # ---- state dicts ----------------------------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered 0, 1, ... in group order (PyTorch's layout); buffers are copies, so training on
        does not change a saved snapshot.

        >>> import chainrule as cr
        >>> from chainrule.optim import SGD
        >>> w = cr.zeros(2, requires_grad=True)
        >>> SGD([w], lr=0.1).state_dict()["param_groups"][0]["params"]
        [0]
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore a snapshot from ``state_dict()``: hyper-parameters, step counts and buffers.

        Buffers are copied and cast to their parameter's dtype; training then continues exactly as the saved run
        would have. Group and parameter counts must match this optimizer's.
        """
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) than the "
                f"optimizer ({len(self.param_groups)})"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of optimizer's "
                    f"group: group {i} has {len(saved['params'])} parameters saved, {len(group['params'])} here"
                )
        params = {
            index: p for group, saved in zip(self.param_groups, saved_groups)
            for index, p in zip(saved["params"], group["params"])
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, values in state_dict["state"].items():
            p = params.get(index)
            if p is not None:
                state[p] = {key: _cast_value(p, index, key, v) for key, v in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def nonzero(setting: Any) -> bool:
    """Whether a setting (momentum) is not 0, deciding which update runs. A box, which cr.compile reads the setting
    into at every run, stands for a number that is not 0: a trace boxes only those, and its guard checks that the
    setting stays off 0 (one that becomes 0 traces again)."""
    return isinstance(setting, Tensor) or bool(setting != 0)


def scalar(x: Any, dtype: Any) -> Any:
    """A hyper-parameter (a number, or the box cr.compile reads it into at every replay) as a scalar of the
    parameters' ``dtype``: NumPy's own cast of a Python number, so a float32 update stays float32 arithmetic."""
    return x.astype(dtype) if hasattr(x, "astype") else np.dtype(dtype).type(x)


def _copy_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor(value.data)  # a copy, on the value's device
    return copy.deepcopy(value)


def _cast_value(p: Tensor, index: int, key: str, value: Any) -> Any:
    """A loaded state entry: ``step`` as a count, arrays as fresh Tensors of the parameter's dtype and shape."""
    if key == "step":
        return Optimizer._counter(float(value.data if isinstance(value, Tensor) else value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Tensor) or hasattr(value, "__array__"):
        array = backend.to_host(value.data) if isinstance(value, Tensor) else np.asarray(value)  # torch's too
        array = np.array(array, dtype=p.data.dtype if np.issubdtype(p.data.dtype, np.floating) else None)
        if array.shape != p.data.shape:
            raise ValueError(
                f"loaded state dict has {key!r} of shape {array.shape} for parameter {index}, whose shape is "
                f"{p.data.shape}"
            )
        return Tensor(backend.to_device(array, p.device))  # on the parameter's device
    return copy.deepcopy(value)


def _setting(name: str, value: Any) -> Any:
    """A hyper-parameter given as a tensor (``lr=cr.tensor(0.01)``, as PyTorch takes it) as its array, which the
    updates compute with (an in-place change of the tensor is seen); one being differentiated is refused."""
    if isinstance(value, tuple):
        return tuple(_setting(name, v) for v in value)
    if not isinstance(value, Tensor):
        return value
    if value.requires_grad or value.data.ndim:
        raise TypeError(f"optimizer: {name} must be a number or a 0-d tensor that needs no gradient, got a tensor of "
                        f"shape {value.shape}" + (" that requires grad" if value.requires_grad else ""))
    return value.data

