"""The generated tables (test_ops, test_batching, test_gpu_ops, test_habits) walk every registered primitive: SciPy's
are registered when chainrule.scipy is imported (SciPy is in the dev extra)."""

import chainrule.scipy  # noqa: F401
