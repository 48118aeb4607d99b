"""hashbench's built-in plugins, importable as `hashbench_plugins` and registered exactly like
third-party ones (entry-point group `hashbench` in pyproject.toml). Grouped by kind:

- `methods/`: hashing methods (baselines, UCMFH, CIRH-like, DDSS-like, the spiking methods);
- `datasets/`: every concrete dataset family: the synthetic twins and synth-events (their
  generators stay in the core, which tests plugins on them), the real cross-modal datasets and
  CIFAR-10 / the DVS datasets read from files;
- `encoders/`: raw data -> features (CLIP, precomputed);
- `executors/`: where runs execute (local, process, Ray).

Where code goes: the core (`hashbench/`) holds interfaces and what every plugin of a kind
shares (for datasets: the data model, file formats, safe pickle, array caching, preparation
helpers and validation, see `hashbench/data/__init__.py`); each concrete method, dataset
family, encoder or executor is a plugin here. Plugins import only `hashbench`'s API; the core
never imports a plugin, and reaches one only through the registry (e.g. `DatasetSpec.check`).
"""
