"""The passes cr.compile runs over a traced program before its first replay (compile.py's ``_trace`` calls
``optimize`` between dropping dead steps and releasing large intermediates).

0. The cast of an optimizer's setting to the parameters' dtype is made where a run reads the setting (one step
   less).
0b. Forwards as the calls they make on the traced host arrays, without the checks the trace already made: a
   transpose as the array's own view, a small relu as a maximum against a constant row of zeros (a plain ufunc
   step, which passes 2-3 then treat as one), a linear layer adding its bias in place.
1. Constant folding: a step whose inputs are all constants (not arguments, captured tensors or results of steps)
   is computed once, at the end of the trace, and its result becomes a constant.
1b. What a forward made, kept for its rule (``_KEPT``): softmax cross-entropy's forward on host arrays, where one
   rule step reads its answer, runs in the form that also returns its exponentials, their sums and the targets'
   positions, and the rule scales those in place instead of computing them again (the small MLP's loss and rule:
   57 us against 74). The same operations: eager's bits.
2. Typed scalars: a ufunc step with a Python number among its inputs gets a 0-d array of the dtype NumPy casts the
   number to for that loop instead (NumPy converts a Python number at every call, which costs more than the
   arithmetic on small arrays: a multiply of 16 values by 0.9 takes 0.70 us, by a 0-d array 0.48 us).
3. Buffer reuse (a memory plan): a ufunc step (elementwise, or a 2-d matmul) writes its result with ``out=`` into
   the array of an intermediate that is dead by then and has the same shape and dtype. A buffer is taken only from
   a step known to allocate a fresh array at every run (a ufunc); a step that may return a view of an input
   (reshape, transpose, indexing, any other forward) ties its result to its inputs, and a buffer is free only when
   everything tied to it is dead. The arrays of the slots in ``kept_slots`` (arguments, results, captured tensors)
   and of constants are never given as buffers (a result may take one: it is a fresh array to the caller). What it
   saves is the allocation: a little on tiny arrays (a unary step writing into its dying input: tanh on 16 values,
   0.62 us against 0.69), nothing in between (the allocator hands a freed block back), and the page faults of a
   fresh array past the allocator's reuse (32 MB: an add on 64 MB arrays, 7.3 ms against 11.8). Steps on small
   arrays of two or more dimensions, which would need a layout check, are left.

3b. Parameter updates as one BLAS axpy (where SciPy is installed): ``w - s * g`` (or ``+``) written back into a
   captured tensor's own array, s a number known before the run (a constant, or a learning rate: SGD's and
   RMSprop's step, not Adam's, whose step size the program computes) and g an array the program made, of
   ``blas.AXPY_BYTES`` or more, float32 or float64 on the host, becomes SciPy's ``saxpy``/``daxpy`` into w: one pass
   over w's memory instead of two and no temporary (SGD's update of 1024 x 1024 float32: 0.11 ms against 0.24;
   256 x 256: 7.5 us against 17). BLAS contracts the product and the sum into one rounding; SGD and RMSprop make
   the same call eagerly (chainrule.blas), so a replayed step gives eager's bits. A trace's own calls round twice
   (the update as recorded); so does a user's ``p -= lr * p.grad`` eagerly, which its replays then contract (within an
   ulp of the exact update). Smaller updates, and those by a computed step size, keep eager's bits (what the small
   ones would save is below a microsecond).

4. Fused runs, on a GPU: where the program's arrays live on a provider that fuses kernels (CuPy: ``cupy.fuse``),
   each run of consecutive elementwise ufunc steps becomes one kernel (chainrule.fused), whose outputs are the run's
   results read after it; a kernel launch costs more than the arithmetic of a small array, and the intermediates
   never reach memory. A kernel checks itself at its first call against its steps run one by one
   (``fused.Kernel``), and keeps to them where it differs. A comparison with a Python int stays out of kernels
   (cupy.fuse's first implementation mis-types it in some releases: cupy#10003).

Passes 0b-3 do not change an operation or the order of the operations, and ``out=`` does not change what a ufunc
computes, so replays keep eager's numbers bit for bit (3b's one rounding aside). For arrays of two or more dimensions a
replay writes into a buffer only where the arguments are C-contiguous (as traced), since eager's result would otherwise
take another memory layout, which later reductions could sum in another order; that is checked at every run only for
the arrays not C-contiguous by construction (products, and elementwise results of them: ``_c_contiguous``).

Not done on the host: fusing runs of small elementwise steps into one Python function. Without generating source
code (no eval), such a step has to interpret its own list of calls, which costs what the replay's loop costs
(measured on the chain: 1.93 us for a fused multiply, add, tanh against 1.83 us for the three steps; 1.49 us written
out by hand, which only generated source would give), so it does not pay. On a GPU the interpreting happens once,
while cupy.fuse traces the body into its kernel. Also measured on the MLP step (256 x 784 -> 1024 -> 1024 -> 10,
float32) and not done: buffers the program keeps between runs (a dead intermediate's array handed to the same step
at the next run) are slower, since a fresh array comes from memory the allocator freed moments before, still in
cache, where a kept buffer was last touched a run earlier (SGD's lr * grad into a kept 4 MB buffer: +70 us on the
update's 1.1 ms), and a run takes no page faults either way once the allocator has settled; the update done in one
pass of cache-sized blocks (lr * grad, then the subtraction, per block) stays within the noise (+-50 us). On the
small MLP (128 x 64 -> 256 -> 256 -> 10): leaving intermediates below 1 MB alive to the run's end (ten steps that
drop them fewer) changes nothing (963 us against 962, side by side): the steps cost what the allocator's reuse of
the freed memory saves. What a run spends outside its steps (the guards, 17 us, and the write-back, 13 us) is
mostly cache misses on the tensors' objects, which the products evict: the same guards cost 9.5 us in a loop.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend, blas
from .fused import Kernel
from .ops import elementwise, nn, reduce, shape
from .ops.elementwise import _cast_forward

if TYPE_CHECKING:
    from .compile import Program

Op = tuple[Callable[..., Any], int, int, int, tuple[int, ...], int]

LARGE = 1 << 16  # bytes from which a step of two or more dimensions takes a dead buffer (through a layout check)
_WEAK = (int, float, complex)  # Python numbers: NumPy casts them to the other operand's dtype ("weak" scalars)


def kept_slots(program: Program) -> set[int]:
    """The slots no pass may fold, write into or drop: what a run reads or writes from outside its steps (the
    arguments, the results, the captured tensors' arrays, gradients and optimizer settings, the effects), and the
    results of value checks, which a run computes for the check alone."""
    return ({k for k in program.inputs if k is not None} | {k for k, _ in program.outputs if k is not None}
            | {k for k, _ in program.captured} | {k for k, _ in program.captured_grads}
            | {k for k, *_ in program.captured_settings} | {k for _, _, k in program.effects if k is not None}
            | set(program.checks))


def optimize(program: Program, values: dict[int, Any]) -> None:
    """All the passes, in order, on a traced ``program``; ``values`` holds the traced array of each step's result (by
    its slot).

    >>> import numpy as np, chainrule as cr
    >>> f = cr.compile(lambda x: cr.tanh(x * 0.5))
    >>> f(np.zeros(3)).tolist()
    [0.0, 0.0, 0.0]
    >>> ((program,),) = f.programs.values()
    >>> (times, _, x, half, _, product), (tanh, _, _, _, ins, _) = program.ops
    >>> program.env[half]  # 0.5 as the loop casts it, once
    array(0.5)
    >>> ins == (product, product)  # tanh writes into the product, which dies there
    True
    """
    _cast_settings(program)
    _cheaper_forms(program, values)
    _fold_constants(program)
    _keep_for_rules(program, values)
    _type_scalars(program, values)
    _fuse_runs(program, values)
    _axpy_updates(program, values)
    _reuse_buffers(program, values)


def _constants(program: Program, kept: set[int]) -> set[int]:
    """The slots steps read that no step writes and no run fills: constants of the program."""
    produced = {op[5] for op in program.ops}
    return {k for op in program.ops for k in op[4]} - produced - kept


def ufunc_of(op: Op) -> np.ufunc | None:
    """The ufunc of a step that is a plain ufunc call (one result, every input a slot), which allocates a fresh array
    at every run; None for any other step."""
    forward, n = op[0], op[1]
    if type(forward) is np.ufunc and forward.nout == 1 and forward.nin == n:
        return forward
    return None


class _Aliases:
    """Slots whose arrays may share memory: a step that is not a plain ufunc may return a view of any input (reshape,
    transpose, getitem; also where it did not while tracing, as a reshape of a differently strided argument)."""

    def __init__(self, ops: list[Op]) -> None:
        self.parent: dict[int, int] = {}
        for op in ops:
            if ufunc_of(op) is None:
                for k in op[4][:1] if type(op[0]) is _Axpy else op[4]:
                    self.join(op[5], k)

    def find(self, k: int) -> int:
        root = k
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while k != root:  # path compression
            self.parent[k], k = root, self.parent[k]
        return root

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


# ---- 0. a setting's cast ----------------------------------------------------------------------------------------
def _cast_settings(program: Program) -> None:
    """A cast of an optimizer's setting (its learning rate to the parameters' dtype) made where the run reads the
    setting, with no step of its own; the setting's own slot is left to the steps that still read it."""
    settings = {entry[0]: entry for entry in program.captured_settings}
    ops = []
    for op in program.ops:
        forward, ins = op[0], op[4]
        if type(forward) is functools.partial and forward.func is _cast_forward and not forward.args \
                and forward.keywords.keys() == {"dtype"} and len(ins) == 1 and ins[0] in settings:
            _, group, key, index, dtype = settings[ins[0]]
            if dtype is None:
                program.captured_settings.append((op[5], group, key, index, np.dtype(forward.keywords["dtype"])))
                continue
        ops.append(op)
    program.ops = ops
    read = {k for op in ops for k in op[4]} | {k for k, _ in program.outputs} | {k for _, _, k in program.effects}
    program.captured_settings = [entry for entry in program.captured_settings if entry[0] in read]


# ---- 0b. forwards as the call they make on the traced arrays ----------------------------------------------------
def _cheaper_forms(program: Program, values: dict[int, Any]) -> None:
    """On host arrays: a transpose (of all axes) as the array's own view (np.transpose's dispatch costs more than
    taking it: 2.4 us against 0.7 in a replay); relu of an array too small for its rows of 8192 as what it computes,
    a maximum against a row of zeros, now a plain ufunc step with the row a constant of the program (made once, not
    at every run; and the step may write into a dead buffer); a linear layer whose bias goes into the product in
    place without its check of the dtypes (the trace made it). The same operations: eager's bits."""
    rows: dict[tuple[Any, ...], int] = {}
    for i, op in enumerate(program.ops):
        forward, options = _bound(op[0])
        ins, out = op[4], op[5]
        x = values.get(ins[0]) if ins else None
        if type(x) is not np.ndarray or options:
            continue
        if forward is shape.transpose.forward and len(ins) == 1:
            program.ops[i] = _step(_transposed, ins, out)
        elif forward is nn._linear_forward and len(ins) == 3 and _biased_in_place(
                [values.get(k, program.env[k]) for k in ins], values[out]):
            program.ops[i] = _step(_biased_product, ins, out)
        elif forward is elementwise._relu and len(ins) == 1 and x.size < elementwise._RELU_ROWS_MIN:
            zeros = np.zeros(x.shape[-1:], dtype=np.result_type(x.dtype, 0))
            key = (zeros.shape, zeros.dtype)
            if key not in rows:
                rows[key] = program.slot(zeros)
            program.ops[i] = _step(np.maximum, (ins[0], rows[key]), out)


_transposed = operator.attrgetter("T")


def _biased_in_place(inputs: list[Any], out: Any) -> bool:
    """Whether a linear layer's forward on ``inputs`` (x, w, b) added its bias, an array, into the product in place
    (``_linear_forward`` does where the sum keeps the product's dtype)."""
    x, w, _ = inputs
    return all(type(a) is np.ndarray for a in (*inputs, out)) and out.dtype == np.result_type(x.dtype, w.dtype)


def _biased_product(x: Any, w: Any, b: Any) -> Any:
    """A linear layer's forward where the trace found the bias added in place (its check made once)."""
    out = x @ w.T
    out += b
    return out


# ---- 1. constants folded -----------------------------------------------------------------------------------------
def _fold_constants(program: Program) -> None:
    """Steps whose inputs are all constants computed now; not a draw (no inputs), and not one whose result is kept or
    may be a view into a kept slot (a run must return fresh arrays, as eager does)."""
    kept = kept_slots(program)
    constants = _constants(program, kept)
    aliases = _Aliases(program.ops)
    escaping = {aliases.find(k) for k in kept}
    ops = []
    for op in program.ops:
        forward, _, _, _, ins, out = op
        if ins and out not in kept and aliases.find(out) not in escaping and all(k in constants for k in ins):
            program.env[out] = forward(*[program.env[k] for k in ins])
            constants.add(out)
        else:
            ops.append(op)
    program.ops = ops


# ---- 1b. what a forward made, kept for its rule ---------------------------------------------------------------
# forwards whose rule (recorded as one step, on the arrays) recomputes what the forward made: by forward, the rule,
# and the steps (each made from the traced inputs and the options) of the forward that also returns what it made
# and of the rule that takes that instead of recomputing it
_KEPT = {reduce._softmax_cross_entropy: (reduce._array_rule, reduce._keeping_step, reduce._rule_step)}


def _bound(forward: Callable[..., Any]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """A step's function and the options bound into it (a plain function has none)."""
    if type(forward) is functools.partial and not forward.args:
        return forward.func, forward.keywords
    return forward, {}


def _keep_for_rules(program: Program, values: dict[int, Any]) -> None:
    """A forward of ``_KEPT`` on host arrays whose answer one rule step reads (with the same inputs and options)
    run in the form that keeps what the rule needs, and that rule reading it: the same numbers, computed once. Both
    steps are made for the traced arrays (what the functions decide at every call eagerly, decided once). What is
    kept is let go after the rule where it is large."""
    ops = program.ops
    producer = {op[5]: i for i, op in enumerate(ops)}
    rules: dict[int, list[int]] = {}  # a forward's step: the steps of its rule reading its answer
    for j, op in enumerate(ops):
        rule = _bound(op[0])[0]
        i = producer.get(op[4][1]) if len(op[4]) == 4 else None
        if i is not None and _KEPT.get(_bound(ops[i][0])[0], (None,))[0] is rule:
            rules.setdefault(i, []).append(j)
    after: dict[int, list[Op]] = {}
    for i, found in rules.items():
        forward, options = _bound(ops[i][0])
        x = values.get(ops[i][4][0]) if len(ops[i][4]) == 2 else None
        if len(found) != 1 or type(x) is not np.ndarray:  # (a rule run twice would write twice into what is kept)
            continue
        j = found[0]
        _, keeping_step, rule_step = _KEPT[forward]
        g, _, *inputs = ops[j][4]
        if tuple(inputs) != ops[i][4]:  # (the rule's options are the node's: the forward's, normalized)
            continue
        kept, answer = program.slot(), ops[i][5]
        ops[i] = _step(keeping_step(x, values.get(inputs[1], program.env[inputs[1]]), **options), ops[i][4], kept)
        after.setdefault(i, []).append(_step(operator.itemgetter(0), (kept,), answer))
        from_kept = rule_step(values.get(g, program.env[g]), values.get(inputs[1], program.env[inputs[1]]),
                              **_bound(ops[j][0])[1])
        ops[j] = _step(from_kept, (g, kept, inputs[1]), ops[j][5])
        if x.nbytes >= LARGE:
            after.setdefault(j, []).append(_step(let_go, (), kept))
    program.ops = [new for i, op in enumerate(ops) for new in (op, *after.get(i, ()))]


# ---- 2. Python numbers as 0-d arrays of the loop's dtype ---------------------------------------------------------
def _type_scalars(program: Program, values: dict[int, Any]) -> None:
    """A Python number given to a binary ufunc step replaced by a 0-d array of the dtype NumPy's loop casts it to,
    where NumPy resolves the same loop for both and the traced result is the same bit for bit."""
    constants = _constants(program, kept_slots(program))
    env = program.env
    typed: dict[tuple[int, np.dtype], int] = {}
    for i, op in enumerate(program.ops):
        forward, ins, out = ufunc_of(op), op[4], op[5]
        if forward is None or forward.nin != 2 or forward.signature is not None:
            continue
        pair = list(ins)
        for pos, k in enumerate(ins):
            other = ins[1 - pos]
            x = values.get(other, env[other])
            if k not in constants or type(env[k]) not in _WEAK or type(x) is not np.ndarray:
                continue
            number = env[k]
            operands = [x.dtype, x.dtype]
            operands[pos] = type(number)
            try:
                loop = forward.resolve_dtypes((*operands, None))
                array = np.asarray(number, dtype=loop[pos])
                operands[pos] = array.dtype
                same = forward.resolve_dtypes((*operands, None)) == loop
            except (TypeError, ValueError, OverflowError):
                continue
            args: list[Any] = [x, x]
            args[pos] = number
            with np.errstate(all="ignore"):  # the trace has warned already, as eager would
                eager = forward(*args)
                args[pos] = array
                ours = forward(*args)
            if not same or eager.dtype != ours.dtype or eager.tobytes() != ours.tobytes():
                continue
            slot = typed.get((k, array.dtype))
            if slot is None:
                slot = typed[(k, array.dtype)] = program.slot(array)
            pair[pos] = slot
        program.ops[i] = _step(op[0], (pair[0], pair[1]), out)


# ---- 3. buffer reuse ---------------------------------------------------------------------------------------------
def _reuse_buffers(program: Program, values: dict[int, Any]) -> None:
    """Ufunc steps given, by ``out=``, the array of an intermediate dead by then with the same shape and dtype."""
    kept = kept_slots(program)
    frozen = kept | _constants(program, kept)
    ops = program.ops
    aliases = _Aliases(ops)
    known = _c_contiguous(ops, values, program.env)
    last: dict[int, int] = {}
    for j, op in enumerate(ops):
        last.setdefault(op[5], j)
        for k in op[4]:
            last[k] = j
    free: dict[int, float] = {}  # each alias class: the step after which all of it is dead
    for k, j in last.items():
        c = aliases.find(k)
        free[c] = float("inf") if k in frozen or free.get(c) == float("inf") else max(free.get(c, -1), j)
    fresh = {op[5] for op in ops if ufunc_of(op) is not None and type(values.get(op[5])) is np.ndarray}
    released: dict[float, list[int]] = {}
    for k in fresh:
        released.setdefault(free[aliases.find(k)], []).append(k)
    pool: dict[tuple[Any, ...], list[int]] = {}
    taken: set[int] = set()
    # a captured tensor's new values written into its own array, as eager's in-place update writes them, where the
    # old values are read no more: no second array of every parameter and optimizer buffer
    home = {k: c for c, t in program.captured for u, what, k in program.effects if u is t and what == "data"}
    read_until = {c: max(last.get(k, -1) for k in _views_of(ops, c)) for c in home.values()}
    for j, op in enumerate(ops):
        ins, out = op[4], op[5]
        forward = ufunc_of(op)
        own = home.get(out)
        if forward is not None and forward.signature is None and own is not None and own not in taken \
                and read_until[own] <= j and not _others_read(aliases, own, ins) \
                and _fits(values[own], (values[out].shape, values[out].dtype)):
            rewritten = _with_buffer(forward, op, own, values[out], values, program.env, known)
            if rewritten is not None:
                taken.add(own)
                ops[j] = rewritten
                continue
        if forward is not None and out in fresh:  # (a result may take a dead buffer: it is fresh to the caller)
            value = values[out]
            key = (value.shape, value.dtype)
            elementwise = forward.signature is None
            donor = None
            if elementwise:  # an input dying here: written in place (exact overlap is safe for elementwise ufuncs)
                donor = next((k for k in ins if k in fresh and k not in taken and free[aliases.find(k)] == j
                              and _fits(values[k], key) and not _others_read(aliases, k, ins)), None)
            if donor is None:
                donor = next((k for k in pool.get(key, ()) if k not in taken), None)
            rewritten = _with_buffer(forward, op, donor, value, values, program.env, known) if donor is not None \
                else None
            if rewritten is not None:
                assert donor is not None
                taken.add(donor)
                ops[j] = rewritten
        for k in released.get(j, ()):
            if k not in taken:
                pool.setdefault((values[k].shape, values[k].dtype), []).append(k)


def _views_of(ops: list[Op], k: int) -> set[int]:
    """``k`` and the slots that may be views of its array: the results of steps other than plain ufuncs that read
    one of them (forward from ``k`` only: unlike ``_Aliases``, a step's other inputs are not views of ``k``)."""
    views = {k}
    for op in ops:
        if ufunc_of(op) is None and not views.isdisjoint(op[4]):
            views.add(op[5])
    return views


def _fits(x: np.ndarray, key: tuple[Any, ...]) -> bool:
    return (x.shape, x.dtype) == key


def _others_read(aliases: _Aliases, k: int, ins: tuple[int, ...]) -> bool:
    """Whether the step reads a slot tied to ``k`` other than ``k`` itself (a view of it: a partial overlap)."""
    c = aliases.find(k)
    return any(i != k and aliases.find(i) == c for i in ins)


def _with_buffer(forward: np.ufunc, op: Op, donor: int, value: np.ndarray, values: dict[int, Any],
                 env: list[Any], known: set[int]) -> Op | None:
    """``op`` writing into ``donor``'s array (NumPy's positional ``out``), or None where that would not pay or could
    change the result's memory layout; the arrays not ``known`` to be C-contiguous are checked at every run."""
    ins, out = op[4], op[5]
    if forward is np.matmul:  # (its result is C-contiguous whatever its inputs' layouts)
        if value.ndim != 2 or value.nbytes < LARGE or any(np.ndim(values.get(k, env[k])) != 2 for k in ins):
            return None
        return _step(_into_c(forward, () if donor in known else (2,)), (*ins, donor), out)
    if value.ndim <= 1:  # a fresh 1-d array is contiguous, as eager's result would be; the replay's loop calls a
        return _step(_out_last(forward), (*ins, donor), out)  # 3-input step directly (16 values: 0.48 us, 0.54 fresh)
    if value.nbytes < LARGE or not (value.flags.c_contiguous and values[donor].flags.c_contiguous):
        return None
    checked = tuple(i for i, k in enumerate((*ins, donor)) if k not in known and np.ndim(values.get(k, env[k])))
    return _step(_into_c(forward, checked), (*ins, donor), out)  # (a 0-d value takes no part in the layout)


def _c_contiguous(ops: list[Op], values: dict[int, Any], env: list[Any]) -> set[int]:
    """The slots whose arrays are C-contiguous at every run by how they are made: a product (matmul's result is, and
    a linear layer's), and an elementwise ufunc's result of such arrays of its shape and of 0-d values (which take
    no part in its layout); written into a buffer, a step's result is that buffer (checked) or a fresh one."""
    known: set[int] = set()
    for op in ops:
        forward, out = ufunc_of(op), op[5]
        value = values.get(out)
        if type(value) is not np.ndarray:
            continue
        if forward is np.matmul or op[0] is _biased_product:
            known.add(out)
        elif forward is not None and forward.signature is None and all(
                (k in known and values[k].shape == value.shape) or np.ndim(values.get(k, env[k])) == 0 for k in op[4]):
            known.add(out)
    return known


def _step(forward: Callable[..., Any], ins: tuple[int, ...], out: int) -> Op:
    """A step laid out as ``Program.add`` lays it out (the first two input slots apart, for the replay's loop)."""
    return (forward, len(ins), ins[0] if ins else 0, ins[1] if len(ins) > 1 else 0, ins, out)


def _out_last(forward: np.ufunc) -> Callable[..., Any]:
    """``forward`` taking its output as its last positional argument (NumPy 2.4 deprecates that for maximum and
    minimum, which take it by keyword here)."""
    if forward.__name__ in ("maximum", "minimum"):
        return lambda *args: forward(*args[:-1], out=args[-1])
    return forward


def _into_c(forward: np.ufunc, checked: tuple[int, ...]) -> Callable[..., Any]:
    """``forward`` writing into its last argument where eager's result would be C-contiguous as that buffer is (an
    elementwise ufunc's result follows its inputs' layout; matmul's is C-contiguous); a fresh result elsewhere. The
    arguments at the positions ``checked`` are checked at every call (the others are C-contiguous by construction:
    a check costs a flags object). Written out for one and two inputs, which a replay calls often (2.1 us over the
    ufunc for ``*args``, 0.7 so)."""
    n = forward.nin

    def c(x: Any) -> bool:
        return type(x) is not np.ndarray or x.flags.c_contiguous

    if not checked:
        if n == 1:
            return lambda x, buffer: forward(x, out=buffer)
        if n == 2:
            return lambda x, y, buffer: forward(x, y, out=buffer)
        return lambda *args: forward(*args[:-1], out=args[-1])
    if checked == (n,):
        if n == 2:
            def product(x: Any, y: Any, buffer: Any) -> Any:
                return forward(x, y, out=buffer) if buffer.flags.c_contiguous else forward(x, y)

            return product
    elif n == 1 and checked == (0, 1):
        def unary(x: Any, buffer: Any) -> Any:
            return forward(x, out=buffer) if buffer.flags.c_contiguous and c(x) else forward(x)

        return unary
    elif n == 2 and checked == (0, 1, 2):
        def binary(x: Any, y: Any, buffer: Any) -> Any:
            return forward(x, y, out=buffer) if buffer.flags.c_contiguous and c(x) and c(y) else forward(x, y)

        return binary

    def into(*args: Any) -> Any:
        if all(c(args[i]) for i in checked):
            return forward(*args[:-1], out=args[-1])
        return forward(*args[:-1])

    return into


# ---- 3b. a parameter's update w -= s * g as one BLAS axpy --------------------------------------------------------
def _axpy_updates(program: Program, values: dict[int, Any]) -> None:
    """``w - s * g`` (or ``w + s * g``) written back into a captured tensor's own array w, with s a number known
    before the run (a constant, or a learning rate the run reads), as one BLAS axpy into w: one pass over w's memory
    instead of two and no temporary. Only where ``s * g`` is read by the update alone and ``w`` is read no more; a g
    from outside (a gradient set before the call) may be w itself or overlap it, which ``blas.axpy`` checks at
    every run (it then leaves the update to NumPy, as eager's does)."""
    ops = program.ops
    if blas.routine(np.dtype(np.float32)) is None or not program.effects:
        return
    home = {k: c for c, t in program.captured for u, what, k in program.effects if u is t and what == "data"}
    if not home:
        return
    kept = kept_slots(program)
    readers: dict[int, list[int]] = {}
    for j, op in enumerate(ops):
        for k in op[4]:
            readers.setdefault(k, []).append(j)
    producer = {op[5]: j for j, op in enumerate(ops)}
    # step sizes known before the run: constants, and the settings a run reads (an optimizer's learning rate). A
    # step size the program computes (Adam's bias-corrected rate) is left: such optimizers' compiled steps keep
    # eager's bits (``python -m chainrule.demo --compile`` trains Adam to the same numbers as without)
    given = _constants(program, kept) | {k for k, *_ in program.captured_settings}
    dropped: set[int] = set()
    for j, op in enumerate(ops):
        forward, own = ufunc_of(op), home.get(op[5])
        if own is None or forward not in (np.subtract, np.add) or len(op[4]) != 2:
            continue
        w, t = op[4]
        if forward is np.add and t == own:
            w, t = t, w
        i = producer.get(t)
        if w != own or i is None or t in kept or readers.get(t) != [j] or ufunc_of(ops[i]) is not np.multiply:
            continue
        if max(readers[k][-1] for k in _views_of(ops, own) if k in readers) > j:
            continue
        scaled = _scaled(ops[i][4], values, program.env, values.get(own))
        if scaled is None or scaled[0] not in given:
            continue
        ops[j] = _step(_Axpy(forward is np.subtract), (own, *scaled), op[5])
        dropped.add(i)
    program.ops = [op for i, op in enumerate(ops) if i not in dropped]


def _scaled(ins: tuple[int, ...], values: dict[int, Any], env: list[Any], w: Any) -> tuple[int, int] | None:
    """The slots (s, g) of a product ``s * g`` (either order) of a number s and an array g of w's shape and
    dtype, float32 or float64 on the host, of blas.AXPY_BYTES or more; None otherwise."""
    if type(w) is not np.ndarray or w.dtype.char not in "fd" or w.nbytes < blas.AXPY_BYTES:
        return None
    for s, g in (ins, ins[::-1]):
        number, array = values.get(s, env[s]), values.get(g, env[g])
        if type(array) is np.ndarray and (array.shape, array.dtype) == (w.shape, w.dtype) and (
                type(number) in (int, float) or (type(number) is np.ndarray and number.shape == ()
                                                  and number.dtype == w.dtype)):
            return s, g
    return None


class _Axpy:
    """The update ``w -/+ s * g`` written into w by BLAS (``blas.axpy``: one rounding, as SGD's and RMSprop's eager
    update); the two ufuncs, into a fresh array, where blas.axpy does not take w and g (another layout, byte order or
    alignment set between calls, a step size of 0). Its result is w or a fresh array, never a view of s or g
    (``_Aliases``)."""

    def __init__(self, subtract: bool) -> None:
        self.subtract, self.sign = subtract, -1.0 if subtract else 1.0

    def __call__(self, w: Any, s: Any, g: Any) -> Any:
        if blas.axpy(self.sign * float(s), g, w):  # (f2py takes a float faster than a 0-d array)
            return w
        return np.subtract(w, np.multiply(s, g)) if self.subtract else np.add(w, np.multiply(s, g))


# ---- 4. fused runs of elementwise steps, on a GPU -------------------------------------------------------------------
FUSED_RUN = 32  # steps at most in one kernel: its arguments (inputs and outputs) stay far below CUDA's limit
_NUMBERS = (bool, int, float, complex)  # what a fused kernel takes besides its arrays: weak scalars, as NumPy's
_COMPARISONS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"})


def _fusable(op: Op, values: dict[int, Any], env: list[Any]) -> bool:
    """Whether a step is an elementwise ufunc on arrays of a provider that fuses (and Python numbers), which that
    provider's namespace has by the same name."""
    forward = ufunc_of(op)
    value = values.get(op[5])
    if forward is None or forward.signature is not None or type(value) not in backend.fused_types:
        return False
    if not all(type(values.get(k, env[k])) is type(value) or type(env[k]) in _NUMBERS for k in op[4]):
        return False
    if forward.__name__ in _COMPARISONS and any(type(env[k]) is int for k in op[4]):
        return False  # cupy.fuse's first implementation mis-types these in some releases (cupy#10003)
    provider = backend.provider_of(value)
    return provider is not None and getattr(provider.xp, forward.__name__, None) is not None


def _fuse_runs(program: Program, values: dict[int, Any]) -> None:
    """Each run of consecutive fusable steps (two or more) as one fused kernel, where it gives the traced results."""
    ops, env = program.ops, program.env
    last_read: dict[int, int] = {}
    for j, op in enumerate(ops):
        for k in op[4]:
            last_read[k] = j
    kept = kept_slots(program)
    fused: list[Op] = []
    run: list[Op] = []

    def close(after: int) -> None:  # the run ends before step ``after``: what is read from there on is an output
        outputs = [op[5] for op in run if op[5] in kept or last_read.get(op[5], -1) >= after]
        fused.extend(_fused(program, run, outputs) if len(run) > 1 and outputs else run)
        run.clear()

    for j, op in enumerate(ops):
        if not _fusable(op, values, env):
            close(j)
            fused.append(op)
            continue
        if len(run) == FUSED_RUN:
            close(j)
        run.append(op)
    close(len(ops))
    program.ops = fused


def _fused(program: Program, run: list[Op], outputs: list[int]) -> list[Op]:
    """The steps of ``run`` as one kernel writing ``outputs`` (unpacked from its tuple, which is then let go)."""
    produced = [op[5] for op in run]
    inputs = list(dict.fromkeys(k for op in run for k in op[4] if k not in produced))
    inputs.sort(key=lambda k: type(program.env[k]) in _NUMBERS)  # an array first: it names the kernel's provider
    place = {k: i for i, k in enumerate([*inputs, *produced])}
    steps = [(ufunc_of(op).__name__, tuple(place[k] for k in op[4])) for op in run]  # type: ignore[union-attr]
    kernel = Kernel(_run_body(steps, [place[k] for k in outputs]), f"chainrule_compiled_{len(run)}_steps")
    if len(outputs) == 1:
        return [_step(kernel, tuple(inputs), outputs[0])]
    results = program.slot()
    return [_step(kernel, tuple(inputs), results), *(_step(operator.itemgetter(i), (results,), k)
                                                     for i, k in enumerate(outputs)),
            _step(let_go, (), results)]


def _run_body(steps: list[tuple[str, tuple[int, ...]]], outputs: list[int]) -> Callable[..., Any]:
    """The body of a fused run: each step's ufunc, by name in the namespace, on the inputs and earlier results; each
    value let go after its last use (the body runs as written at a kernel's first call, and where it is dropped)."""
    last = {i: j for j, (_, args) in enumerate(steps) for i in args}
    done_after: dict[int, list[int]] = {}
    for i, j in last.items():
        if i not in outputs:
            done_after.setdefault(j, []).append(i)

    def body(xp: Any, *inputs: Any) -> Any:
        values: list[Any] = list(inputs)
        for j, (name, args) in enumerate(steps):
            values.append(getattr(xp, name)(*[values[i] for i in args]))
            for i in done_after.get(j, ()):
                values[i] = None
        return tuple(values[i] for i in outputs) if len(outputs) > 1 else values[outputs[0]]

    return body


def let_go() -> None:
    """A step's forward that drops its slot's value (``env[k] = let_go()``), so the loop pays nothing for it."""
    return None
