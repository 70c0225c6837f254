"""Files: checkpoints and results written atomically and read back with their architecture checked
(`checkpoint`), and the clock that splits a job's time into start-up, load, compute and write (`phases`)."""
