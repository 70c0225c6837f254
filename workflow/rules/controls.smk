# The controls of the star's claim (docs/controls.md): for every star an ordinary model of its quality, and for
# every k the first k anchors merged by weight matching. Their pairs are measured by the barrier rule like any
# other (pair types control_heldout, merged_heldout, merged_anchor).


rule train_control:
    input:
        data=dataset_file,
        star=lambda wc: paths.model(wc.exp, xp.star_of_control(wc.control)),
    output:
        checkpoint=paths.model("{exp}", "{control}"),
        meta=paths.model("{exp}", "{control}", "json"),
    log:
        paths.log("{exp}", "train_control", "{control}"),
    benchmark:
        paths.benchmark("{exp}", "train_control", "{control}")
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
        cfg=control_params,
        state=paths.state("{exp}", "{control}"),
    script:
        "../scripts/train_control.py"


rule merge_anchors:
    input:
        data=dataset_file,
        anchors=lambda wc: [
            paths.model(wc.exp, a) for a in xp.anchor_ids(exp_cfg(wc))[: int(wc.k)]
        ],
    output:
        checkpoint=paths.model("{exp}", "merged-k{k}"),
        meta=paths.model("{exp}", "merged-k{k}", "json"),
    log:
        paths.log("{exp}", "merge_anchors", "merged-k{k}"),
    benchmark:
        paths.benchmark("{exp}", "merge_anchors", "merged-k{k}")
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
        cfg=merge_params,
    script:
        "../scripts/merge_anchors.py"
