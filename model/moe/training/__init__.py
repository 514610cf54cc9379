"""The three training stages: self-supervised pre-training, multi-task fine-tuning with PCGrad,
and distillation into a smaller student. Each stage is resumable from a :class:`StageState`."""

from plantpulse.model.moe.training.data import Batcher, TaskData, TaskSplits, combined_fingerprint
from plantpulse.model.moe.training.distill import run_distill, student_config, warm_start_student
from plantpulse.model.moe.training.distributed import is_main_process, world
from plantpulse.model.moe.training.finetune import run_finetune
from plantpulse.model.moe.training.pretrain import run_pretrain
from plantpulse.model.moe.training.runtime import StageOptions, StageState, pick_device, seed_everything

__all__ = [
    "Batcher", "StageOptions", "StageState", "TaskData", "TaskSplits", "combined_fingerprint",
    "is_main_process", "pick_device", "run_distill", "run_finetune", "run_pretrain", "seed_everything",
    "student_config", "warm_start_student", "world",
]
