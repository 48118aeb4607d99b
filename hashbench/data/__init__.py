"""Datasets in the core: what every dataset plugin shares, and no concrete dataset family.

The rule: the core keeps the data model (`types.py`: splits, datasets, `DatasetSpec`,
`CheckReport`), file formats (`formats.py`, the generic layout's `manifest.py`), safe pickle
(`safe_pickle.py`), array caching (`array_cache.py`), preparation helpers (`files.py`: the data
root and the standard split; `prepare.py`: `hashbench data prepare`; `unimodal_common.py`) and
validation (`leakage.py`, `validation.py`, the checks in `unimodal_common.py`). Every concrete
dataset family (its catalog, locating and reading its files, its registration) is a plugin in
`plugins/datasets/`, like every method. One exception, by necessity: the generators of the
embedded synthetic datasets (`synthetic.py`, `events.py`) stay here because the conformance
suite (`hashbench.testing`) runs methods on tiny generated datasets and the core never imports
a plugin; their registration as datasets is still a plugin.
"""

from hashbench.data.types import CrossModalDataset, DatasetOptions, DatasetSpec, Split

__all__ = ["CrossModalDataset", "DatasetOptions", "DatasetSpec", "Split"]
