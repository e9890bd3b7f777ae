rule aggregate:
    input:
        target_results(),
    output:
        parquet=f"{OUT}/{paths.TABLE}",
        csv=f"{OUT}/{paths.TABLE_CSV}",
    log:
        f"{OUT}/{paths.log('aggregate')}",
    benchmark:
        f"{OUT}/{paths.benchmark('aggregate')}"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("aggregate"),
    script:
        "../workflow_scripts/aggregate.py"


rule report:
    input:
        unpack(report_inputs),
    output:
        html=REPORT_HTML,
        markdown=report(f"{REPORT}/summary.md", caption="captions/summary.rst", category="Tables"),
        accuracy_table=report(f"{REPORT}/accuracy.csv", caption="captions/accuracy_table.rst", category="Tables"),
        cost_table=report(f"{REPORT}/costs.csv", caption="captions/costs.rst", category="Tables"),
        accuracy=report(
            report_figures(["accuracy_vs_fraction"]),
            caption="captions/accuracy.rst",
            category="Accuracy",
            subcategory="against fraction",
        ),
        relative=report(
            report_figures(["relative_to_random"]),
            caption="captions/relative.rst",
            category="Accuracy",
            subcategory="relative to random",
        ),
        rank=report(
            report_figures(["rank_heatmap"]), caption="captions/rank.rst", category="Accuracy", subcategory="rank"
        ),
        cost=report(report_figures(["cost_vs_accuracy"]), caption="captions/cost.rst", category="Cost"),
        balance=report(f"{REPORT}/class_balance.png", caption="captions/class_balance.rst", category="Subsets"),
        overlap=report(f"{REPORT}/subset_overlap.png", caption="captions/overlap.rst", category="Subsets"),
        mislabeled=report(
            [f"{REPORT}/{paths.NOISE_FIGURE}.png"] if CFG["split"]["label_noise"] > 0 else [],
            caption="captions/mislabeled.rst",
            category="Subsets",
        ),
        transfer=report(
            [f"{REPORT}/{paths.TRANSFER_FIGURE}.png"] if paths.transfer_study(CFG) else [],
            caption="captions/transfer.rst",
            category="Accuracy",
            subcategory="transfer",
        ),
        svg=[f"{REPORT}/{name}.svg" for name in REPORT_FIGURES],
    log:
        f"{OUT}/{paths.log('report')}",
    benchmark:
        f"{OUT}/{paths.benchmark('report')}"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("report"),
        config=CFG,
        # each seed's run folder, {seed} left in (a function: Snakemake would fill a string's wildcards)
        proxy_runs=lambda wildcards: paths.fill(f"{OUT}/{paths.PROXY}", proxy=MAIN_PROXY),
    script:
        "../workflow_scripts/report.py"
