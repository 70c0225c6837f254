rule train:
    input:
        data=dataset_file,
        pretrained=pretrained_source,
    output:
        checkpoint=f"{RESULTS}/{{exp}}/models/{{role}}-{{seed}}.pt",
        meta=f"{RESULTS}/{{exp}}/models/{{role}}-{{seed}}.json",
    log:
        f"{RESULTS}/{{exp}}/logs/train/{{role}}-{{seed}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/train/{{role}}-{{seed}}.tsv"
    group:
        "models"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        cfg=train_params,
        state=f"{RESULTS}/{{exp}}/state/{{role}}-{{seed}}.pt",
    script:
        "../scripts/train.py"


rule train_star:
    input:
        data=dataset_file,
        anchors=star_anchor_checkpoints,
    output:
        checkpoint=f"{RESULTS}/{{exp}}/models/{{star}}.pt",
        meta=f"{RESULTS}/{{exp}}/models/{{star}}.json",
    log:
        f"{RESULTS}/{{exp}}/logs/train_star/{{star}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/train_star/{{star}}.tsv"
    group:
        "stars"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=120,
    params:
        cfg=star_params,
        state=f"{RESULTS}/{{exp}}/state/{{star}}.pt",
    script:
        "../scripts/train_star.py"
