"""``minicnn.data``: datasets, the DataLoader and augmentations (after ``torch.utils.data``).

* :mod:`~minicnn.data.dataset`: ``Dataset``, ``TensorDataset``, ``Subset``, ``DataLoader``, ``default_collate``;
* :mod:`~minicnn.data.transforms`: augmentations that move image, mask and weight map together;
* :mod:`~minicnn.data.cells`: generated microscopy-like cells with U-Net weight maps;
* :mod:`~minicnn.data.digits`: scikit-learn's bundled 8 x 8 handwritten digits.
"""
from . import transforms  # noqa: F401
from .cells import Cells, CellsDataset, make_cells, unet_weight_map  # noqa: F401
from .dataset import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split  # noqa: F401
from .digits import DigitsDataset, load_digits  # noqa: F401

__all__ = ["transforms", "Cells", "CellsDataset", "make_cells", "unet_weight_map", "DataLoader", "Dataset",
           "Subset", "TensorDataset", "default_collate", "random_split", "DigitsDataset", "load_digits"]
