rule aggregate:
    input:
        barriers=lambda wc: pair_files(wc, "barriers"),
        curves=lambda wc: pair_files(wc, "curve"),
    output:
        barriers=f"{RESULTS}/{{exp}}/barriers.csv",
        curves=f"{RESULTS}/{{exp}}/curves.csv",
        summary=f"{RESULTS}/{{exp}}/summary.csv",
    log:
        f"{RESULTS}/{{exp}}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("aggregate", "aggregate.py"),
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        barriers=f"{RESULTS}/{{exp}}/barriers.csv",
        curves=f"{RESULTS}/{{exp}}/curves.csv",
    output:
        multiext(f"{RESULTS}/{{exp}}/figures/curves", ".png", ".svg"),
        multiext(f"{RESULTS}/{{exp}}/figures/barriers", ".png", ".svg"),
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
