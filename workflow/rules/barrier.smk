rule barrier:
    input:
        data=dataset_file,
        model1=lambda wc: model_path(wc.exp, wc.model1),
        model2=lambda wc: model_path(wc.exp, wc.model2),
    output:
        curve=f"{RESULTS}/{{exp}}/pairs/{{pair_type}}/{{model1}}__{{model2}}.curve.csv",
        barriers=f"{RESULTS}/{{exp}}/pairs/{{pair_type}}/{{model1}}__{{model2}}.barriers.csv",
    log:
        f"{RESULTS}/{{exp}}/logs/barrier/{{pair_type}}/{{model1}}__{{model2}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/barrier/{{pair_type}}/{{model1}}__{{model2}}.tsv"
    group:
        "barriers"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=10,
    params:
        cfg=barrier_params,
    script:
        "../scripts/barrier.py"
