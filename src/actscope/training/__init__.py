"""Training: the one training loop (`stepper`), ``fit`` over whole epochs (`loop`), the
optimisers (`optimizers`), per-epoch `history` and learning-rate `tuning`."""
