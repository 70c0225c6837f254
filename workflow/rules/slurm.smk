# What a run does around its SLURM jobs (starlight/slurm/): limits checked when the rules are read; partitions
# checked, jobs named by rule and wildcards before the first submission; failed jobs explained at the end.
import time

from starlight.pipeline.locks import written_since
from starlight.slurm import kept_logs, names, pacing, preflight, queries, report

# A global `resources:` limit (profiles/slurm: gpu=1) would silently lower a larger request of a rule.
if workflow.is_main_process:
    try:
        preflight.check_limits(
            {
                r.name: {
                    k: v.value for k, v in r.resources.items() if not v.is_evaluable()
                }
                for r in workflow.rules
            },
            {
                k: v.value
                for k, v in workflow.global_resources.items()
                if not k.startswith("_")
            },
        )
    except preflight.PreflightError as err:
        stop(str(err))

# This run's SLURM jobs: when it started, and job name -> the job, for the failure report.
SLURM_RUN = {"since": None, "submitted": {}}


def start_slurm_run():
    """Before the first submission: readable job names, job states checked at a steady interval, the SLURM logs of
    older runs deleted, and partitions that exist and have GPUs."""
    SLURM_RUN["since"] = time.time()
    logger.addFilter(names.AccountWarning())
    if not names.name_jobs_by_rule(SLURM_RUN["submitted"]):
        logger.warning("SLURM jobs keep the plugin's names (the run id).")
    if not pacing.steady_status_checks():
        logger.warning(
            "Job states are checked at the plugin's growing intervals (up to 180 s)."
        )
    logs = kept_logs.log_dir(workflow.executor_settings.logdir, workflow.workdir_init)
    kept_logs.keep_last_runs(logs, config["slurm_log_runs"], SLURM_RUN["since"])
    logger.info(
        f"SLURM job logs: {logs} (kept for the last {config['slurm_log_runs']} runs)"
    )
    try:
        available = queries.partitions()
    except queries.SlurmError as err:
        logger.warning(f"Partitions not checked: {err}")
        return
    jobs = [job for job in workflow.dag.needrun_jobs() if not job.is_local]
    try:
        preflight.check_partitions(
            [(job.rule.name, job.resources) for job in jobs], available
        )
    except preflight.PreflightError as err:
        stop(str(err))


def record_waited_outputs(since):
    """Jobs the earlier run's SLURM jobs finished while this run waited for them lack Snakemake's metadata (the
    killed snakemake would have recorded it): record it, so that a later config edit reruns them.
    """
    done = [
        job
        for job in workflow.dag.jobs
        if not workflow.dag.needrun(job)
        and not workflow.persistence.has_metadata(job)
        and written_since(job.output, since)
    ]
    for job in done:
        workflow.async_run(workflow.persistence.finished(job))
    if done:
        logger.info(
            f"Recorded the metadata of {len(done)} job(s) the earlier run finished."
        )


def report_slurm_failures():
    labels = {
        name: names.job_label(job) for name, job in SLURM_RUN["submitted"].items()
    }
    text = report.failure_report(workflow.workdir_init, SLURM_RUN["since"], labels)
    if text:
        logger.error(text)


# Snakemake keeps one `onstart` handler, the last one defined: this one runs every start-up step.
onstart:
    stop_if_data_missing()
    mark_forced_run()
    if EARLIER_RUN and EARLIER_RUN.waited_since:
        record_waited_outputs(EARLIER_RUN.waited_since)
    if workflow.executor_plugin.name == "slurm":
        start_slurm_run()


onerror:
    if workflow.executor_plugin.name == "slurm" and SLURM_RUN["since"]:
        report_slurm_failures()
