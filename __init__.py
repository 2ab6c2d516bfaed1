"""L1 Trainer: train a small MLP on MNIST and watch L1 regularization make it sparse.

The repository's top level is this package (pyproject.toml maps it): `main.py` is
`l1_trainer.main`, `core/` and `gui/` are `l1_trainer.core` and `l1_trainer.gui`, and
`resources/` ships inside it as package data.
"""
