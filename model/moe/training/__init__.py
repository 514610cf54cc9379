"""The three training stages: self-supervised pre-training, multi-task fine-tuning with PCGrad,
and distillation into a smaller student. Each stage is resumable from a :class:`StageState`."""

from plantpulse.model.moe.training.data import Batcher
from plantpulse.model.moe.training.data import TaskData
from plantpulse.model.moe.training.data import TaskSplits
from plantpulse.model.moe.training.data import combined_fingerprint
from plantpulse.model.moe.training.distill import run_distill
from plantpulse.model.moe.training.distill import student_config
from plantpulse.model.moe.training.distributed import is_main_process
from plantpulse.model.moe.training.distributed import world
from plantpulse.model.moe.training.finetune import run_finetune
from plantpulse.model.moe.training.pretrain import run_pretrain
from plantpulse.model.moe.training.runtime import StageOptions
from plantpulse.model.moe.training.runtime import StageState
from plantpulse.model.moe.training.runtime import pick_device
from plantpulse.model.moe.training.runtime import seed_everything

__all__ = [
    "Batcher", "StageOptions", "StageState", "TaskData", "TaskSplits", "combined_fingerprint",
    "is_main_process", "pick_device", "run_distill", "run_finetune", "run_pretrain", "seed_everything",
    "student_config", "world",
]
