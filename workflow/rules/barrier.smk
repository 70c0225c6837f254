# One job per model1: it evaluates all of that model's pairs (its start-up and data loading shared), writing each
# pair's curve and barriers under pairs/<pair_type>/; its output lists them. A rerun (one more held-out model, a
# retrained model) recomputes only the pairs whose checkpoints, params or code changed (starlight/pipeline/memo.py).
rule barrier:
    input:
        data=dataset_file,
        model1=lambda wc: paths.model(wc.exp, wc.model1),
        models2=lambda wc: [
            paths.model(wc.exp, model2) for _, model2 in batch_pairs(wc.exp, wc.model1)
        ],
    output:
        batch=paths.batch("{exp}", "{model1}"),
    log:
        paths.log("{exp}", "barrier", "{model1}"),
    benchmark:
        paths.benchmark("{exp}", "barrier", "{model1}")
    group:
        "barriers"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=lambda wc: 5 + 5 * len(batch_pairs(wc.exp, wc.model1)),
    params:
        cfg=barrier_params,
        pairs=lambda wc: batch_pairs(wc.exp, wc.model1),
        stems=lambda wc: [
            paths.pair_stem(wc.exp, pair_type, wc.model1, model2)
            for pair_type, model2 in batch_pairs(wc.exp, wc.model1)
        ],
    script:
        "../scripts/barrier.py"
