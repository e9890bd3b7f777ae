rule aggregate:
    input:
        target_results(),
    output:
        parquet=f"{OUT}/results.parquet",
        csv=f"{OUT}/results.csv",
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
        markdown=report(f"{OUT}/report/summary.md", caption="captions/summary.rst", category="Tables"),
        accuracy_table=report(f"{OUT}/report/accuracy.csv", caption="captions/accuracy_table.rst", category="Tables"),
        cost_table=report(f"{OUT}/report/costs.csv", caption="captions/costs.rst", category="Tables"),
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
        balance=report(f"{OUT}/report/class_balance.png", caption="captions/class_balance.rst", category="Subsets"),
        overlap=report(f"{OUT}/report/subset_overlap.png", caption="captions/overlap.rst", category="Subsets"),
        mislabeled=report(
            [f"{OUT}/report/mislabeled_share.png"] if CFG["split"]["label_noise"] > 0 else [],
            caption="captions/mislabeled.rst",
            category="Subsets",
        ),
        svg=[f"{OUT}/report/{name}.svg" for name in REPORT_FIGURES],
    log:
        f"{OUT}/{paths.log('report')}",
    benchmark:
        f"{OUT}/{paths.benchmark('report')}"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("report"),
        config=CFG,
        proxy_dir=f"{OUT}/proxy",
    script:
        "../workflow_scripts/report.py"
