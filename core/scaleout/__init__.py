"""Scale out: run one training config on many GPUs and nodes with an existing engine.

core.scaleout.plan
    ScaleOutRequest(gpus_per_node, nodes, strategy, out_dir, project_dir, gpu, main_process_port)
    plan_scale_out(config, request, config_dir=None) -> ScaleOutPlan (strategy, accelerate,
        deepspeed, node_commands, slurm_command, estimate, warnings); ScaleOutError
core.scaleout.accelerate_config
    accelerate_config(strategy, gpus_per_node, nodes); fsdp_config(version) (FSDP2 where
    torch has it); deepspeed_config(strategy) (DeepSpeed's own file, "auto" from the run)
core.scaleout.writer
    write_plan(plan, out_dir, overwrite=False) -> list[Path] (the output-folder rules:
        check_launch_folder); slurm_script(plan, folder)
core.scaleout.strategies
    STRATEGIES (ddp, fsdp, zero3, zero2) with their estimator sharding; deepspeed_installed()
core.scaleout.estimate_link
    run_settings_for(config, total_gpus, strategy) -> core.estimate EstimateRun
"""
