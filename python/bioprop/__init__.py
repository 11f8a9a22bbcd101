"""bioprop: biologically plausible learning rules on CPU and CUDA, from Python.

The engine is bioprop's C++ engine; this module only drives it. Names follow the command line:
``bioprop.train(rule="brainprop", net="conv", dataset="fashion-mnist", epochs=3)`` does what
``bioprop train --rule brainprop --net conv --dataset fashion-mnist --epochs 3`` does.
"""
from ._bioprop import (Dataset, Error, Trainer, TensorView, checkpoint_arrays, list_datasets, list_nets, list_rules,
                       train)

__all__ = ["Dataset", "Error", "Trainer", "TensorView", "checkpoint_arrays", "list_datasets", "list_nets",
           "list_rules", "train"]
