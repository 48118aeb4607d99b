"""Running benchmarks: grid expansion, run ids, and the execution of one run."""
