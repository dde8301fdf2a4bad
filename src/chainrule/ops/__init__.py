"""The primitive table, by family: elementwise, reduce, shape (with indexing), linalg."""
