"""Fair comparison: tuning studies on a validation split carved from the training data.

`settings` defines a study, `study` replays one from the store (ask, run or reuse, tell),
`session` tunes a grid and evaluates the tuned and default parameters on the test protocol,
`report` lists and shows studies and writes the table footnotes, `cost` says what tuning cost
(trials by state, trial and refit run times). See docs/tuning.md.
"""
