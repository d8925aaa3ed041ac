"""Small experiment specs the command-line tests share (seconds to run, valid by default)."""

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
