"""Built-in executor plugins: where the runs of a grid execute (`local`: in this process or a
pool of local processes; `ray_cluster`: a Ray cluster)."""
