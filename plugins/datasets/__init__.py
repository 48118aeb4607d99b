"""Built-in dataset plugins: each concrete dataset family, its readers and its registration
(`synthetic`, `events`, `real` with `real_files`, `unimodal_real` with `cifar` and `dvs`)."""
