"""Published figures shown beside our own, with their sources. Copied from the papers, not
measured here; their protocols may differ from ours in details (windowing, validation)."""

from __future__ import annotations

CMAPSS_PUBLISHED: dict[str, dict] = {
    "DCNN (Li, Ding & Sun 2018)": {
        "source": "X. Li, Q. Ding, J.-Q. Sun, Remaining useful life estimation in prognostics using deep "
                  "convolution neural networks, Reliability Engineering & System Safety 172 (2018) 1–11, "
                  "doi:10.1016/j.ress.2017.11.021; last test window, RUL cap 125",
        "FD001": 12.61, "FD002": 22.36, "FD003": 12.64, "FD004": 23.31,
    },
    "STAR (Fan, Li & Chang 2024)": {
        "source": "Z. Fan, W. Li, K.-C. Chang, A two-stage attention-based hierarchical Transformer for "
                  "turbofan engine remaining useful life prediction, Sensors 24(3) (2024) 824, "
                  "doi:10.3390/s24030824; RUL cap 125",
        "FD001": 10.61, "FD002": 13.47, "FD003": 10.71, "FD004": 15.87,
    },
}
