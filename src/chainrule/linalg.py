"""``cr.linalg``: NumPy's ``numpy.linalg`` names, differentiable."""
