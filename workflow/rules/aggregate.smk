rule aggregate:
    input:
        batches=batch_files,
    output:
        barriers=f"{RESULTS}/{{exp}}/barriers.csv",
        curves=f"{RESULTS}/{{exp}}/curves.csv",
        summary=report(
            f"{RESULTS}/{{exp}}/summary.csv",
            caption="../report/summary.rst",
            category="{exp}",
            subcategory="tables",
        ),
    log:
        f"{RESULTS}/{{exp}}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("aggregate", "aggregate.py"),
        star_columns=lambda wc: xp.star_columns(exp_cfg(wc)),
        barriers=lambda wc: pair_files(wc, "barriers"),
        curves=lambda wc: pair_files(wc, "curve"),
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        barriers=f"{RESULTS}/{{exp}}/barriers.csv",
        curves=f"{RESULTS}/{{exp}}/curves.csv",
    output:
        report(
            f"{RESULTS}/{{exp}}/figures/curves.png",
            caption="../report/curves.rst",
            category="{exp}",
            subcategory="figures",
        ),
        f"{RESULTS}/{{exp}}/figures/curves.svg",
        report(
            f"{RESULTS}/{{exp}}/figures/barriers.png",
            caption="../report/barriers.rst",
            category="{exp}",
            subcategory="figures",
        ),
        f"{RESULTS}/{{exp}}/figures/barriers.svg",
        report(
            f"{RESULTS}/{{exp}}/figures/path_loss.png",
            caption="../report/path_loss.rst",
            category="{exp}",
            subcategory="figures",
        ),
        f"{RESULTS}/{{exp}}/figures/path_loss.svg",
    log:
        f"{RESULTS}/{{exp}}/logs/figures.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/figures.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("figures", "figures.py"),
    script:
        "../scripts/figures.py"


rule sweep:
    input:
        barriers=lambda wc: [
            f"{RESULTS}/{v.name}/barriers.csv" for v in SWEEPS[wc.sweep]
        ],
    output:
        table=report(
            f"{RESULTS}/{{sweep}}/table.csv",
            caption="../report/table.rst",
            category="{sweep}",
            subcategory="tables",
        ),
        markdown=f"{RESULTS}/{{sweep}}/table.md",
        figures=report(
            directory(f"{RESULTS}/{{sweep}}/figures/sweep"),
            patterns=["{name}.png"],
            caption="../report/sweep.rst",
            category="{sweep}",
            subcategory="sweep",
        ),
    log:
        f"{RESULTS}/{{sweep}}/logs/sweep.log",
    benchmark:
        f"{RESULTS}/{{sweep}}/benchmarks/sweep.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        variants=lambda wc: sweep_variants(wc.sweep),
        paper=lambda wc: config["experiments"][wc.sweep].get("paper", {}).get("values", []),
        bootstrap=lambda wc: config["experiments"][wc.sweep]["bootstrap"],
        code=lambda wc: params.code("sweep", None, "sweep.py"),
    script:
        "../scripts/sweep.py"


rule experiment_config:
    output:
        report(
            f"{RESULTS}/{{sweep}}/config.yaml",
            caption="../report/config.rst",
            category="{sweep}",
            subcategory="config",
        ),
    log:
        f"{RESULTS}/{{sweep}}/logs/experiment_config.log",
    benchmark:
        f"{RESULTS}/{{sweep}}/benchmarks/experiment_config.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        experiment=lambda wc: config["experiments"][wc.sweep],
        code=lambda wc: params.code("config_record", None, "experiment_config.py"),
    script:
        "../scripts/experiment_config.py"


rule benchmarks:
    input:
        experiment_outputs,
    output:
        report(
            f"{RESULTS}/{{exp}}/benchmarks.csv",
            caption="../report/benchmarks.rst",
            category="{exp}",
            subcategory="tables",
        ),
    log:
        f"{RESULTS}/{{exp}}/logs/benchmarks.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/benchmarks.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        results=lambda wc: f"{RESULTS}/{wc.exp}",
        code=code("costs", "benchmarks.py"),
    script:
        "../scripts/benchmarks.py"
