"""Datasets: generators by name (a registry), CSV files, the train / val / test splits,
and the true decision boundaries where the generator knows them.

This layer sits below ``config``: a generator reads the fields it needs from any spec
object (``actscope.config.DataSpecLike`` is the validated one).
"""

from actscope.data.boundaries import (
    arcs_bayes_score,
    boundary_points,
    distance_to,
    grid_distance,
    grid_over,
    register_true_score,
    true_score,
)
from actscope.data.csv_files import load_csv, parse_csv
from actscope.data.generators import GENERATORS, Dataset, DataSpecLike, load_dataset, register_generator

__all__ = ["GENERATORS", "DataSpecLike", "Dataset", "arcs_bayes_score", "boundary_points", "distance_to",
           "grid_distance", "grid_over", "load_csv", "load_dataset", "parse_csv",
           "register_generator", "register_true_score", "true_score"]
