"""Weld-image connectors: folders or zip uploads of images with optional YOLO labels."""
