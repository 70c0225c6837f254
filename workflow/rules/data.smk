rule stage_data:
    output:
        temp(directory("resources/{dataset}_raw")),
    log:
        "logs/stage_data/{dataset}.log",
    benchmark:
        "logs/stage_data/{dataset}.benchmark.tsv"
    wildcard_constraints:
        dataset=PREPARED_STEM,
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        data_root=data_root_of,
        allow_download=config["allow_download"],
        code=data_code("stage_data"),
    script:
        "../scripts/stage_data.py"


rule prepare_data:
    input:
        "resources/{dataset}_raw",
    output:
        "resources/{dataset}.pt",
    log:
        "logs/prepare_data/{dataset}.log",
    benchmark:
        "logs/prepare_data/{dataset}.benchmark.tsv"
    wildcard_constraints:
        dataset=PREPARED_STEM,
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=data_code("prepare_data"),
    script:
        "../scripts/prepare_data.py"
