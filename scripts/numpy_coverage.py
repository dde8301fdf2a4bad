"""Which of NumPy's functions chainrule differentiates: NumPy's public callables in ``np``, ``np.linalg`` and
``np.fft``, in three groups, as ``np.NAME(tensor)`` finds them (``chainrule.dispatch``):

- with a rule: routed to a chainrule function, which records gradients;
- no derivative: computed on the values of any tensor (booleans, indices, integers);
- without a rule: computed on tensors that are not being differentiated, refused by name on those that are.

    PYTHONPATH=src python scripts/numpy_coverage.py
"""

from __future__ import annotations

import numpy as np

from chainrule import dispatch


def groups() -> tuple[list[str], list[str], list[str]]:
    """NumPy's function names (``linalg.``/``fft.``-prefixed for those modules) with a rule, without a derivative,
    and without a rule."""
    ufuncs, functions = dispatch._tables()
    ruled: list[str] = []
    no_derivative: list[str] = []
    refused: list[str] = []
    seen: set[int] = set()
    for prefix, module in (("", np), ("linalg.", np.linalg), ("fft.", np.fft)):
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or isinstance(obj, type) or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            has_rule = obj in ufuncs if isinstance(obj, np.ufunc) else obj in functions
            group = ruled if has_rule else no_derivative if obj in dispatch._NO_DERIVATIVE else refused
            group.append(prefix + name)
    return ruled, no_derivative, refused


if __name__ == "__main__":
    for title, names in zip(("with a rule", "no derivative (computed on any value)",
                             "without a rule (refused on values being differentiated)"), groups()):
        print(f"{len(names)} {title}:\n  {' '.join(names)}\n")
