"""Measurements of trained (or random) networks: probes, statistics over seeds, per-class
metrics, inference cost, and the collapse of piecewise-linear networks.

Import the module you need (``from actscope.analysis import probes, stats``): probes and
stats load scikit-learn and SciPy's statistics only when a function needs them.
"""
