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


def subset_jobs():
    """(method, fraction label, seed) of every configured subset."""
    return [(m, f, s) for m in CFG["methods"] for f in method_fractions(m) for s in CFG["seeds"]]


def proxy_file_names():
    """Names (below proxy/seed<N>/) of the proxy outputs the configured methods read."""
    return sorted({n for m in CFG["methods"] for n in get_method(m).proxy_files(method_params(CFG, m), PLAN)})


def proxy_outputs():
    """The proxy outputs the configured methods read (their sizes are the report's "bytes of signals")."""
    return [f"{OUT}/proxy/seed{s}/{name}" for s in CFG["seeds"] for name in proxy_file_names()]


def proxy_benchmarks():
    """Benchmark files of the proxy runs the configured methods read: the main run, and repeats."""
    names = proxy_file_names()
    if not names:
        return []
    repeats = sorted({int(r) for n in names for r in re.findall(r"(?:^|/)repeat(\d+)/", n)})
    return [
        *expand(rules.train_proxy.benchmark, seed=CFG["seeds"]),
        *expand(rules.train_proxy_repeat.benchmark, seed=CFG["seeds"], repeat=repeats),
    ]


def report_inputs(wildcards):
    """Results, the benchmark files of every configured proxy/score/select/target job, subsets, splits, proxy outputs."""
    jobs = subset_jobs()
    return {
        "results": f"{OUT}/results.parquet",
        "benchmarks": [
            *proxy_benchmarks(),
            *sorted({rules.score.benchmark.format(method=m, seed=s) for m, _, s in jobs}),
            *[rules.select.benchmark.format(method=m, fraction=f, seed=s) for m, f, s in jobs],
            *[rules.train_target.benchmark.format(arch=a, method=m, fraction=f, seed=s)
              for a in CFG["target"]["archs"] for m, f, s in jobs],
        ],
        "subsets": [f"{OUT}/subsets/{m}/{f}/seed{s}.parquet" for m, f, s in jobs],
        "splits": [f"{OUT}/split/seed{s}.parquet" for s in CFG["seeds"]],
        "proxy": proxy_outputs(),
    }


# every figure the report writes (PNG and SVG); prunebench.report.figure_files says the same (tested)
REPORT_ARCH_FIGURES = ["accuracy_vs_fraction", "relative_to_random", "rank_heatmap", "cost_vs_accuracy"]
REPORT_FIGURES = [
    *(f"{stem}_{arch}" for arch in CFG["target"]["archs"] for stem in REPORT_ARCH_FIGURES),
    "class_balance",
    "subset_overlap",
    *(["mislabeled_share"] if CFG["split"]["label_noise"] > 0 else []),
]


def report_figures(stems):
    return [f"{OUT}/report/{stem}_{arch}.png" for arch in CFG["target"]["archs"] for stem in stems]


rule report:
    input:
        unpack(report_inputs),
    output:
        html=REPORT_HTML,
        markdown=report(f"{OUT}/report/summary.md", caption="captions/summary.rst", category="Tables"),
        accuracy_table=report(f"{OUT}/report/accuracy.csv", caption="captions/accuracy_table.rst",
                              category="Tables"),
        cost_table=report(f"{OUT}/report/costs.csv", caption="captions/costs.rst", category="Tables"),
        accuracy=report(report_figures(["accuracy_vs_fraction"]), caption="captions/accuracy.rst",
                        category="Accuracy", subcategory="against fraction"),
        relative=report(report_figures(["relative_to_random"]), caption="captions/relative.rst",
                        category="Accuracy", subcategory="relative to random"),
        rank=report(report_figures(["rank_heatmap"]), caption="captions/rank.rst", category="Accuracy",
                    subcategory="rank"),
        cost=report(report_figures(["cost_vs_accuracy"]), caption="captions/cost.rst", category="Cost"),
        balance=report(f"{OUT}/report/class_balance.png", caption="captions/class_balance.rst",
                       category="Subsets"),
        overlap=report(f"{OUT}/report/subset_overlap.png", caption="captions/overlap.rst", category="Subsets"),
        mislabeled=report(
            [f"{OUT}/report/mislabeled_share.png"] if CFG["split"]["label_noise"] > 0 else [],
            caption="captions/mislabeled.rst",
            category="Subsets",
        ),
        svg=[f"{OUT}/report/{name}.svg" for name in REPORT_FIGURES],
    params:
        config=CFG,
        proxy_dir=f"{OUT}/proxy",
    log:
        f"{OUT}/logs/report.log",
    benchmark:
        f"{OUT}/benchmarks/report.tsv"
    conda:
        "../envs/prunebench.yaml"
    script:
        "../workflow_scripts/report.py"
