"""The multimodal mixture-of-experts network, its training stages, checkpoints and inference."""
