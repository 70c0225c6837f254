rule train:
    input:
        data=dataset_file,
        pretrained=pretrained_source,
    output:
        checkpoint=paths.model("{exp}", "{role}-{seed}"),
        meta=paths.model("{exp}", "{role}-{seed}", "json"),
    log:
        paths.log("{exp}", "train", "{role}-{seed}"),
    benchmark:
        paths.benchmark("{exp}", "train", "{role}-{seed}")
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
        state=paths.state("{exp}", "{role}-{seed}"),
    script:
        "../scripts/train.py"


rule train_star:
    input:
        data=dataset_file,
        anchors=star_anchor_checkpoints,
    output:
        checkpoint=paths.model("{exp}", "{star}"),
        meta=paths.model("{exp}", "{star}", "json"),
    log:
        paths.log("{exp}", "train_star", "{star}"),
    benchmark:
        paths.benchmark("{exp}", "train_star", "{star}")
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
        state=paths.state("{exp}", "{star}"),
    script:
        "../scripts/train_star.py"
