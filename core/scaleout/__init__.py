"""Scale out: run one training config on many GPUs and nodes with an existing engine.

core.scaleout.plan
    ScaleOutRequest(gpus_per_node, nodes, strategy, out_dir, project_dir, gpu, main_process_port)
    plan_scale_out(config, request, config_dir=None) -> ScaleOutPlan (strategy, accelerate,
        node_commands, estimate, warnings); ScaleOutError
core.scaleout.writer
    write_plan(plan, out_dir) -> list[Path]
core.scaleout.strategies
    STRATEGIES (ddp, fsdp, zero3, zero2) with their estimator sharding; deepspeed_installed()
core.scaleout.estimate_link
    run_settings_for(config, total_gpus, strategy) -> core.estimate EstimateRun
"""
