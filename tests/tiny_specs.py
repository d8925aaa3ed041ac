"""Small experiment and search specs the tests share (seconds to run, valid by default)."""

TINY_ONE_ARM = """
name = "tiny"
[data]
n_samples = 80
[model]
hidden = [4]
[train]
epochs = 2
batch_size = 16
[[arms]]
name = "relu"
activation = "relu"
"""

TINY_TWO_ARMS = TINY_ONE_ARM + """[[arms]]
name = "tanh"
activation = "tanh"
"""


# a search: two stages over two tasks (parsing and validation tests)
TINY_SEARCH = """
[search]
name = "tiny"
strategy = "random"
max_size = 2
candidates = 6
references = ["relu", "tanh"]
chunk = 4
tasks = ["moons", "circles"]

[[search.stages]]
seeds = 2
epochs = 3
keep = 0.5

[[search.stages]]
seeds = 3
epochs = 4

[tasks.moons]
name = "moons"
n_samples = 80
val_size = 0.2

[tasks.circles]
name = "circles"
n_samples = 80
val_size = 0.2

[model]
hidden = [4]

[train]
lr_grid = [0.1, 0.5]
batch_size = 16
"""


# a search small enough to run end to end in seconds; SLOW runs long enough to interrupt
TINY_SEARCH_E2E = """
[search]
name = "e2e"
max_size = 2
candidates = 3
references = ["relu"]
chunk = 4
[[search.stages]]
seeds = 2
epochs = 2
keep = 2
[[search.stages]]
seeds = 2
epochs = 2
[tasks.moons]
name = "moons"
n_samples = 60
val_size = 0.25
[model]
hidden = [2]
[train]
lr_grid = [0.5]
batch_size = 16
"""


TINY_SEARCH_SLOW = TINY_SEARCH_E2E.replace("candidates = 3", "candidates = 20") \
    .replace("chunk = 4", "chunk = 2").replace("epochs = 2\nkeep = 2", "epochs = 100\nkeep = 2")


# a sweep of two one-arm cells (the command-line tests: --json, --set)
TINY_SWEEP = """
[sweep]
name = "tiny"
latency = false
[sweep.grid]
activation = ["sigmoid", "relu"]
[data]
n_samples = 80
[model]
hidden = [3]
[train]
epochs = 2
[seeds]
count = 2
"""
