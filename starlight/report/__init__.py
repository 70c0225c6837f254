"""The report: barriers gathered into CSVs (`aggregate`), the summary table with its intervals and verdicts
(`table`, `controls_table`, `intervals`), the figures (`plots`, `sweep_plots`) and the cost table (`costs`).
Reads what the jobs wrote; trains and measures nothing."""
