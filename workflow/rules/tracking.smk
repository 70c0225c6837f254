# Experiment tracking (docs/tracking.md): with `tracking:` on, rule all also asks for each experiment's
# published.json, and `publish` builds the experiment's Snakemake HTML report and logs the finished experiment from
# its files. Live logging happens inside the training jobs; neither is in any rule's params, so turning tracking on
# plans this rule alone.


rule publish:
    input:
        publish_inputs,
    output:
        paths.published("{sweep}"),
        paths.sweep_file("{sweep}", "report.html"),
    log:
        paths.log("{sweep}", "publish"),
    benchmark:
        paths.benchmark("{sweep}", "publish")
    conda:
        "../../envs/starlight.yaml"
    threads: 1
    params:
        variants=lambda wc: [v.name for v in SWEEPS[wc.sweep]],
    script:
        "../scripts/publish.py"
