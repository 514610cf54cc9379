# One image for every PlantPulse service (dashboard, scheduler, OPC-UA simulator and client).
# CPU-only torch wheels keep the image small where the PyTorch index is reachable:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu .
FROM python:3.11-slim AS runtime

ARG TORCH_INDEX=""
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PLANTPULSE_HOME=/var/lib/plantpulse \
    YOLO_CONFIG_DIR=/var/lib/plantpulse/ultralytics

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 plantpulse

WORKDIR /opt/plantpulse
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY app ./app
COPY model ./model
COPY pipelines ./pipelines
COPY connectors ./connectors
COPY data ./data
COPY docs ./docs

RUN if [ -n "$TORCH_INDEX" ]; then pip install --index-url "$TORCH_INDEX" torch; fi \
 && pip install -c constraints.txt . \
 && mkdir -p "$PLANTPULSE_HOME" && chown plantpulse "$PLANTPULSE_HOME"

USER plantpulse
EXPOSE 8501 4840
ENTRYPOINT ["plantpulse"]
CMD ["--help"]
