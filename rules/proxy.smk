rule train_proxy:
    input:
        data=DATA_DIR,
        split=f"{OUT}/{paths.SPLIT}",
    output:
        train=f"{OUT}/{paths.PROXY}/{TRAIN_FILE}",
        eval=f"{OUT}/{paths.PROXY}/{EVAL_FILE}",
        snapshots=[f"{OUT}/{paths.PROXY}/{snapshot_file(e)}" for e in PLAN.logged_snapshots],
        models=[f"{OUT}/{paths.PROXY}/{model_file(e)}" for e in PLAN.logged_snapshots],
    log:
        f"{OUT}/{paths.log('train_proxy')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_proxy')}"
    # before anything else: every score job waits for them, EL2N's and GraNd's for the repeats too,
    # which would otherwise start only once the many target jobs left a core free
    priority: 10
    conda:
        "../envs/prunebench.yaml"
    # one thread: each seed's proxy runs beside the other's (a second thread made one run only 1.47x
    # faster on 2 cores: 33.1 s against 48.6 s); the SLURM profile gives them 4
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=code("train_proxy", trains="proxy"),
        proxy=lambda wildcards: proxy_settings(CFG, wildcards.proxy),
        crop_size=CFG["dataset"]["crop_size"],
        device=CFG["device"],
        out_dir=proxy_dir,
    script:
        "../workflow_scripts/train_proxy.py"


# independent short proxy runs (their own initialisation) for methods averaged over runs: EL2N, GraNd
use rule train_proxy as train_proxy_repeat with:
    output:
        snapshots=[f"{OUT}/{paths.PROXY}/repeat{{repeat}}/{snapshot_file(e)}" for e in PLAN.snapshot_epochs],
        models=[f"{OUT}/{paths.PROXY}/repeat{{repeat}}/{model_file(e)}" for e in PLAN.snapshot_epochs],
    log:
        f"{OUT}/{paths.log('train_proxy_repeat')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_proxy_repeat')}"
