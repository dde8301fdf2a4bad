"""``Module`` and ``Parameter``: the PyTorch habits (attribute registration, state dicts, train/eval) on chainrule.

A module owns three ordered dictionaries filled by attribute assignment: ``_parameters`` (``Parameter`` objects,
the leaves an optimizer updates), ``_buffers`` (tensors that are state but not trained, e.g. BatchNorm's running
statistics) and ``_modules`` (submodules). Every traversal (``named_parameters``, ``state_dict``, ``repr``) walks
them in assignment order, so keys read exactly as PyTorch's: ``"0.weight"``, ``"fc.bias"``, ``"bn.running_mean"``.
"""

from __future__ import annotations

import itertools
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import numpy as np

from .. import backend
from ..engine import no_grad
from ..spelling import as_dtype
from ..tensor import Tensor, _check_differentiable_dtype
from ._helpers import check_device, is_device, layer_name

__all__ = ["Module", "ModuleDict", "ModuleList", "Parameter", "Sequential"]

M = TypeVar("M", bound="Module")


class Parameter(Tensor):
    """A leaf tensor that a ``Module`` registers as trainable (``requires_grad=True`` by default).

    Built from a Tensor or an ndarray it shares that memory, as ``torch.nn.Parameter`` does.

    >>> import numpy as np
    >>> import chainrule as cr
    >>> w = cr.nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    >>> w.requires_grad, w.is_leaf, w.shape
    (True, True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        array = data.data if isinstance(data, Tensor) else np.asarray(data)  # shared, not copied
        if requires_grad:
            _check_differentiable_dtype(array.dtype)
        self.data = array
        self.requires_grad = requires_grad
        self.grad = None
        self._node = None
        self._version = None
        self._hooks = None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model: subclass it, assign parameters and submodules in ``__init__``, write
    ``forward``; calling the module calls ``forward``.

    Dtypes: a module refuses a floating-point input (Tensor or ndarray) whose dtype differs from its own floating
    parameters' dtype, with a TypeError naming the module and both dtypes, as PyTorch does: NumPy would otherwise
    promote float32 parameters fed float64 data and compute silently in float64. Convert one side:
    ``x.astype(np.float32)``, or ``model.to(np.float64)``. Python numbers and integer inputs are accepted as they
    are. (The check looks at the module's own parameters, so a container such as ``Sequential`` leaves it to its
    layers.)

    >>> import chainrule as cr
    >>> class MLP(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = cr.nn.Linear(4, 8)
    ...         self.fc2 = cr.nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(cr.relu(self.fc1(x)))
    >>> model = MLP()
    >>> [name for name, _ in model.named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    >>> model(cr.zeros(3, 4, dtype="float32")).shape
    (3, 2)
    >>> model
    MLP(
      (fc1): Linear(in_features=4, out_features=8, bias=True)
      (fc2): Linear(in_features=8, out_features=2, bias=True)
    )
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(): define it in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._checks_input_dtype:
            self._check_input_dtype((args, kwargs))
        return self.forward(*args, **kwargs)

    _checks_input_dtype = True
    """Whether floating inputs must have the parameters' dtype (False for layers whose inputs are indices)."""

    def _check_input_dtype(self, inputs: Any) -> None:
        """Refuse a floating Tensor or ndarray among ``inputs`` (nested in tuples, lists and dicts) whose dtype is
        not one of this module's own floating parameters' dtypes: NumPy would silently compute in the wider one."""
        own = {p.dtype for p in self._parameters.values() if p is not None and p.dtype.kind == "f"}
        if not own:
            return
        stack = [inputs]
        while stack:
            x = stack.pop()
            if isinstance(x, (tuple, list)):
                stack.extend(x)
            elif isinstance(x, dict):
                stack.extend(x.values())
            elif isinstance(x, (Tensor, np.ndarray)) and x.dtype.kind == "f" and x.dtype not in own:
                wanted = min(own, key=str)  # one of them, the same every time
                raise TypeError(
                    f"{layer_name(self)}: got a {x.dtype} input, but the parameters are {wanted}; convert the "
                    f"input (x.astype(np.{wanted})) or the module (model.to(np.{x.dtype}))")

    # ---- registration ----------------------------------------------------------------------------------------
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call: call super().__init__() "
                                 f"first in {type(self).__name__}.__init__")

    @staticmethod
    def _check_name(name: Any, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared-but-absent one such as ``bias=False``) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} "
                            "(cr.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: module state that is not trained (running statistics). Persistent buffers are in
        ``state_dict()``; none are in ``parameters()``."""
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                            "(cr.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under ``name`` (as ``self.name = module`` does)."""
        self._check_init("child modules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(cr.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("child modules")
            self._forget(name, keep="_modules")
            self._modules[name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(cr.nn.Module or None expected)")
            self._modules[name] = None
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                "(cr.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the instance dict and every registry but ``keep`` (where a re-assignment keeps its
        place in the order), before it is registered anew."""
        self.__dict__.pop(name, None)
        if keep != "_parameters":
            self._parameters.pop(name, None)
        if keep != "_modules":
            self._modules.pop(name, None)
        if name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # only called when ordinary lookup fails: parameters, buffers and submodules live in their dictionaries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._parameters, *self._buffers, *self._modules})

    # ---- traversal -------------------------------------------------------------------------------------------
    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first in registration order, with dotted names ("" for self)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant (each once)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their names (each once)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else iter([(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs in registration order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters (what an optimizer is given): ``cr.optim.Adam(model.parameters(), lr=1e-3)``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs in registration order."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers (running statistics and other untrained state)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path: ``model.get_submodule("encoder.0")``."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    # ---- state ----------------------------------------------------------------------------------------------
    def state_dict(self, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """Every parameter and persistent buffer by dotted name, in PyTorch's order and key names.

        Values are tensors sharing memory with the module's (detached unless ``keep_vars``): save them with
        ``cr.save(model.state_dict(), path)``.

        >>> import chainrule as cr
        >>> list(cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3)).state_dict())
        ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_targets(self) -> dict[str, Tensor]:
        return dict(self.state_dict(keep_vars=True))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values into this module's parameters and buffers, in place (the tensors keep their identity).

        Every name is checked before anything is copied: a value whose shape or dtype differs from the module's
        is always an error; with ``strict`` (the default) so are missing and unexpected names. The error lists
        them all. Returns ``(missing_keys, unexpected_keys)``.

        >>> import chainrule as cr
        >>> a, b = cr.nn.Linear(2, 2), cr.nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        _IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight == b.weight).data.all())
        True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected a mapping of names to arrays for state_dict, got {type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        mismatched: list[str] = []
        values: list[tuple[Tensor, np.ndarray[Any, Any]]] = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else value
            array = array if hasattr(array, "shape") and hasattr(array, "dtype") else np.asarray(array)
            if array.shape != target.shape or array.dtype != target.dtype:
                mismatched.append(f"{key}: the module has shape {target.shape} and dtype {target.dtype}, "
                                  f"the state_dict has shape {array.shape} and dtype {array.dtype}")
            else:
                values.append((target, array))
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if mismatched:
            errors.append("Wrong shape or dtype: " + "; ".join(mismatched) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for target, array in values:
                if array is not target.data:  # a state saved on one device loads into a module on another
                    target[...] = backend.to_device(array, target.device)
        return _IncompatibleKeys(missing, unexpected)

    # ---- modes, gradients, dtypes ------------------------------------------------------------------------------
    def train(self: M, mode: bool = True) -> M:
        """Set training mode (dropout active, batch statistics) on this module and every descendant."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self: M) -> M:
        """Set evaluation mode (``train(False)``): dropout off, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``None`` (the default), or zeros written into it in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            elif not p.grad.is_leaf:  # a differentiable gradient (create_graph=True): drop its graph
                p.grad = Tensor(np.zeros_like(p.grad.data))
            else:
                with no_grad():
                    p.grad[...] = 0  # in place, as PyTorch

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Turn gradient recording on or off for every parameter (freeze a part of a model)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self: M, fn: Callable[[Module], Any]) -> M:
        """Call ``fn`` on every submodule (children first) and then on this module; returns self.

        >>> import chainrule as cr
        >>> net = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.Linear(2, 1))
        >>> def init(m):
        ...     if isinstance(m, cr.nn.Linear):
        ...         cr.nn.init.zeros_(m.weight)
        >>> float(net.apply(init)[1].weight.sum())
        0.0
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self: M, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False) -> M:
        """Move parameters and buffers (and their gradients) to ``device``, and convert the floating-point ones to
        ``dtype``, in place (integer buffers keep their dtype). Returns the module.

        PyTorch's forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(device=..., dtype=...)``, with
        the devices "cpu" and "cuda" (or "cuda:N", which needs the ``gpu`` extra and a GPU; without them a
        ValueError says what is missing). ``non_blocking`` is accepted and ignored.

        >>> import numpy as np
        >>> import chainrule as cr
        >>> cr.nn.Linear(2, 2).to(np.float64).weight.dtype
        dtype('float64')
        >>> cr.nn.Linear(2, 2).to("cpu", np.float64).weight.dtype
        dtype('float64')
        """
        who = f"{self._get_name()}.to"
        for arg in args:  # each positional argument is a device or a dtype, in either order
            if is_device(arg):
                if device is not None:
                    raise TypeError(f"{who} got two devices: {device!r} and {arg!r}")
                device = arg
            else:
                if dtype is not None:
                    raise TypeError(f"{who} got two dtypes: {dtype!r} and {arg!r}")
                dtype = arg
        check_device(device, who)
        target = None
        if dtype is not None:
            try:
                target = as_dtype(dtype)
            except (TypeError, ValueError):
                raise (ValueError if isinstance(dtype, str) else TypeError)(
                    f"{who}: {dtype!r} is neither a dtype (such as np.float32 or 'float64') nor a device "
                    "(such as 'cpu')") from None
            if not np.issubdtype(target, np.floating):
                raise TypeError(f"{who} only accepts floating point dtypes, got {target}")
        for t in itertools.chain(self.parameters(), self.buffers()):
            if device is not None:
                t.data = backend.to_device(t.data, device)
                if t.grad is not None:
                    t.grad = t.grad.detach().to(device)
            if target is not None and np.issubdtype(t.dtype, np.floating) and t.dtype != target:
                t.data = t.data.astype(target)
                if t.grad is not None:
                    t.grad = t.grad.detach().astype(target)
        return self

    def float(self: M) -> M:
        """``to(float32)``."""
        return self.to(np.float32)

    def double(self: M) -> M:
        """``to(float64)``."""
        return self.to(np.float64)

    # ---- printing --------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's arguments, shown inside its ``repr``; subclasses override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


# ---- containers --------------------------------------------------------------------------------------------------
def _index(idx: Any, size: int, kind: str) -> int:
    i = operator.index(idx)
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of range for a {kind} of length {size}")
    return i % size


class Sequential(Module):
    """Modules applied one after another; children are named "0", "1", ... (or by the keys of an OrderedDict).

    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    >>> len(net), type(net[1]).__name__, [k for k in net.state_dict()]
    (3, 'ReLU', ['0.weight', '0.bias', '2.weight', '2.bias'])
    >>> net(cr.ones(5, 4, dtype="float32")).shape
    (5, 1)
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def _renumber(self, modules: Iterable[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx: Any, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: Any) -> None:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[_index(idx, len(self), "Sequential")]
        self._renumber(m for _, m in items)  # type: ignore[misc]  # as PyTorch: the rest are renumbered

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Add each of ``modules`` at the end."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        modules = list(self._modules.values())
        if not -len(modules) <= index <= len(modules):
            raise IndexError(f"index {index} is out of range for a Sequential of length {len(modules)}")
        modules.insert(index, module)
        self._renumber(modules)  # type: ignore[arg-type]
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)  # type: ignore[misc]
        return x


class ModuleList(Module):
    """A list of modules whose parameters the parent registers (children "0", "1", ...); it has no forward.

    >>> import chainrule as cr
    >>> layers = cr.nn.ModuleList([cr.nn.Linear(2, 2) for _ in range(3)])
    >>> layers.append(cr.nn.Tanh())
    ModuleList(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): Linear(in_features=2, out_features=2, bias=True)
      (2): Linear(in_features=2, out_features=2, bias=True)
      (3): Tanh()
    )
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, modules: Iterable[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])  # type: ignore[arg-type]
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: Any, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Any) -> None:
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            del modules[idx]
        else:
            del modules[_index(idx, len(self), "ModuleList")]
        self._renumber(modules)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return type(self)([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end."""
        if isinstance(modules, (Module, str)) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable of modules, got "
                            f"{type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)  # type: ignore[arg-type]

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """A dictionary of modules (insertion-ordered) whose parameters the parent registers; it has no forward.

    >>> import chainrule as cr
    >>> heads = cr.nn.ModuleDict({"cls": cr.nn.Linear(4, 10), "box": cr.nn.Linear(4, 4)})
    >>> list(heads.keys()), "cls" in heads
    (['cls', 'box'], True)
    >>> list(heads.state_dict())
    ['cls.weight', 'cls.bias', 'box.weight', 'box.bias']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        module = self._modules[key]
        assert module is not None
        return module

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()  # type: ignore[return-value]

    def items(self) -> Iterable[tuple[str, Module]]:
        """``(name, module)`` pairs, in insertion order."""
        return self._modules.items()  # type: ignore[return-value]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or from ``(name, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for entry in pairs:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise TypeError("ModuleDict.update expects a mapping or (name, module) pairs")
            self[entry[0]] = entry[1]

    def pop(self, key: str) -> Module:
        """Remove the entry ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every entry."""
        self._modules.clear()
