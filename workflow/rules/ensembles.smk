rule ensemble:
    input:
        data=dataset_file,
        star=lambda wc: model_path(wc.exp, wc.star),
        anchors=star_anchor_checkpoints,
    output:
        f"{RESULTS}/{{exp}}/ensembles/{{star}}.csv",
    log:
        f"{RESULTS}/{{exp}}/logs/ensemble/{{star}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/ensemble/{{star}}.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        cfg=lambda wc: params.ensemble_params(exp_cfg(wc)),
    script:
        "../scripts/ensemble.py"


rule ensembles:
    input:
        lambda wc: [
            f"{RESULTS}/{wc.exp}/ensembles/{s.id}.csv" for s in xp.stars(exp_cfg(wc))
        ],
    output:
        table=f"{RESULTS}/{{exp}}/ensembles.csv",
        figure=[
            report(
                f"{RESULTS}/{{exp}}/figures/ensembles.png",
                caption="../report/ensembles.rst",
                category="{exp}",
                subcategory="ensembles",
            ),
            f"{RESULTS}/{{exp}}/figures/ensembles.svg",
        ],
    log:
        f"{RESULTS}/{{exp}}/logs/ensembles.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/ensembles.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("ensembles_table", "ensembles.py"),
    script:
        "../scripts/ensembles.py"
