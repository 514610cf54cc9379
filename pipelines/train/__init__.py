"""The training job and the model-ready task datasets it trains on."""
