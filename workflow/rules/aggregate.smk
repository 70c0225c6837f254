rule aggregate:
    input:
        batches=batch_files,
    output:
        barriers=paths.table("{exp}", "barriers"),
        curves=paths.table("{exp}", "curves"),
        summary=report(
            paths.table("{exp}", "summary"),
            caption="../report/summary.rst",
            category="{exp}",
            subcategory="tables",
        ),
    log:
        paths.log("{exp}", "aggregate"),
    benchmark:
        paths.benchmark("{exp}", "aggregate")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("aggregate"),
        star_columns=lambda wc: xp.star_columns(exp_cfg(wc)),
        barriers=lambda wc: pair_files(wc, "barriers"),
        curves=lambda wc: pair_files(wc, "curve"),
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        barriers=paths.table("{exp}", "barriers"),
        curves=paths.table("{exp}", "curves"),
    output:
        report(
            paths.figure("{exp}", "curves", "png"),
            caption="../report/curves.rst",
            category="{exp}",
            subcategory="figures",
        ),
        paths.figure("{exp}", "curves", "svg"),
        report(
            paths.figure("{exp}", "barriers", "png"),
            caption="../report/barriers.rst",
            category="{exp}",
            subcategory="figures",
        ),
        paths.figure("{exp}", "barriers", "svg"),
        report(
            paths.figure("{exp}", "path_loss", "png"),
            caption="../report/path_loss.rst",
            category="{exp}",
            subcategory="figures",
        ),
        paths.figure("{exp}", "path_loss", "svg"),
    log:
        paths.log("{exp}", "figures"),
    benchmark:
        paths.benchmark("{exp}", "figures")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("figures"),
    script:
        "../scripts/figures.py"


rule sweep:
    input:
        barriers=lambda wc: [paths.table(v.name, "barriers") for v in SWEEPS[wc.sweep]],
    output:
        table=report(
            paths.sweep_file("{sweep}", "table.csv"),
            caption="../report/table.rst",
            category="{sweep}",
            subcategory="tables",
        ),
        markdown=paths.sweep_file("{sweep}", "table.md"),
        figures=report(
            directory(paths.sweep_file("{sweep}", "figures/sweep")),
            patterns=["{name}.png"],
            caption="../report/sweep.rst",
            category="{sweep}",
            subcategory="sweep",
        ),
    log:
        paths.log("{sweep}", "sweep"),
    benchmark:
        paths.benchmark("{sweep}", "sweep")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        variants=lambda wc: sweep_variants(wc.sweep),
        paper=lambda wc: config["experiments"][wc.sweep]
        .get("paper", {})
        .get("values", []),
        bootstrap=lambda wc: config["experiments"][wc.sweep]["bootstrap"],
        code=config_code("sweep"),
    script:
        "../scripts/sweep.py"


rule experiment_config:
    output:
        report(
            paths.sweep_file("{sweep}", "config.yaml"),
            caption="../report/config.rst",
            category="{sweep}",
            subcategory="config",
        ),
    log:
        paths.log("{sweep}", "experiment_config"),
    benchmark:
        paths.benchmark("{sweep}", "experiment_config")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        experiment=lambda wc: config["experiments"][wc.sweep],
        code=config_code("experiment_config"),
    script:
        "../scripts/experiment_config.py"


rule costs:
    input:
        experiment_outputs,
    output:
        report(
            paths.table("{exp}", "costs"),
            caption="../report/costs.rst",
            category="{exp}",
            subcategory="tables",
        ),
    log:
        paths.log("{exp}", "costs"),
    benchmark:
        paths.benchmark("{exp}", "costs")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        benchmarks=lambda wc: paths.benchmarks(wc.exp),
        logs=lambda wc: paths.logs(wc.exp),
        code=code("costs"),
    script:
        "../scripts/costs.py"
