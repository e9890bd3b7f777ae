rule aggregate:
    input:
        target_results(),
    output:
        parquet=f"{OUT}/results.parquet",
        csv=f"{OUT}/results.csv",
    log:
        f"{OUT}/logs/aggregate.log",
    benchmark:
        f"{OUT}/benchmarks/aggregate.tsv"
    conda:
        "../envs/prunebench.yaml"
    script:
        "../workflow_scripts/aggregate.py"


rule report:
    input:
        results=f"{OUT}/results.parquet",
    output:
        html=REPORT_HTML,
        markdown=report(
            f"{OUT}/report/summary.md",
            caption="captions/summary.rst",
            category="Tables",
        ),
        figures=report(
            expand(f"{OUT}/report/accuracy_vs_fraction_{{arch}}.png", arch=CFG["target"]["archs"]),
            caption="captions/accuracy.rst",
            category="Figures",
        ),
    params:
        config=CFG,
    log:
        f"{OUT}/logs/report.log",
    benchmark:
        f"{OUT}/benchmarks/report.tsv"
    conda:
        "../envs/prunebench.yaml"
    script:
        "../workflow_scripts/report.py"
