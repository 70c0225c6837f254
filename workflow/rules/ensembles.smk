rule ensemble:
    input:
        data=dataset_file,
        star=lambda wc: paths.model(wc.exp, wc.star),
        anchors=star_anchor_checkpoints,
    output:
        paths.ensemble("{exp}", "{star}"),
    log:
        paths.log("{exp}", "ensemble", "{star}"),
    benchmark:
        paths.benchmark("{exp}", "ensemble", "{star}")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        cfg=ensemble_params,
    script:
        "../scripts/ensemble.py"


rule ensembles:
    input:
        lambda wc: [paths.ensemble(wc.exp, s.id) for s in xp.stars(exp_cfg(wc))],
    output:
        table=paths.table("{exp}", "ensembles"),
        figure=[
            report(
                paths.figure("{exp}", "ensembles", "png"),
                caption="../report/ensembles.rst",
                category="{exp}",
                subcategory="ensembles",
            ),
            paths.figure("{exp}", "ensembles", "svg"),
        ],
    log:
        paths.log("{exp}", "ensembles"),
    benchmark:
        paths.benchmark("{exp}", "ensembles")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        code=code("ensembles"),
    script:
        "../scripts/ensembles.py"
