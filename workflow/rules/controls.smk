# The controls of the star's claim (README, "Controls"): for every star an ordinary model of its quality, and for
# every k the first k anchors merged by weight matching. Their pairs are measured by the barrier rule like any
# other (pair types control_heldout, merged_heldout, merged_anchor).


rule train_control:
    input:
        data=dataset_file,
        star=lambda wc: model_path(wc.exp, xp.star_of_control(wc.control)),
    output:
        checkpoint=f"{RESULTS}/{{exp}}/models/{{control}}.pt",
        meta=f"{RESULTS}/{{exp}}/models/{{control}}.json",
    log:
        f"{RESULTS}/{{exp}}/logs/train_control/{{control}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/train_control/{{control}}.tsv"
    group:
        "stars"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=90,
    params:
        cfg=lambda wc: params.control_params(exp_cfg(wc), wc.control),
        state=f"{RESULTS}/{{exp}}/state/{{control}}.pt",
    script:
        "../scripts/train_control.py"


rule merge_anchors:
    input:
        data=dataset_file,
        anchors=lambda wc: [
            model_path(wc.exp, a) for a in xp.anchor_ids(exp_cfg(wc))[: int(wc.k)]
        ],
    output:
        checkpoint=f"{RESULTS}/{{exp}}/models/merged-k{{k}}.pt",
        meta=f"{RESULTS}/{{exp}}/models/merged-k{{k}}.json",
    log:
        f"{RESULTS}/{{exp}}/logs/merge_anchors/merged-k{{k}}.log",
    benchmark:
        f"{RESULTS}/{{exp}}/benchmarks/merge_anchors/merged-k{{k}}.tsv"
    group:
        "stars"
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=30,
    params:
        cfg=lambda wc: params.merge_params(exp_cfg(wc)),
    script:
        "../scripts/merge_anchors.py"
