rule prepare_data:
    output:
        "resources/{dataset}.pt",
    params:
        data_root=config["data_root"],
        allow_download=config["allow_download"],
    log:
        "logs/prepare_data/{dataset}.log",
    benchmark:
        "logs/prepare_data/{dataset}.benchmark.tsv"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    script:
        "../scripts/prepare_data.py"
