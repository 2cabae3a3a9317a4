"""P4: encode 145 frames at 720p with i2v.encoding vs diffusers' export_to_video, same run.

Prints a table and writes bench/results/encode.json. Goal: at most 0.5x the time of
export_to_video at equal or better PSNR. Needs imageio and imageio-ffmpeg
(export_to_video's backend; both in the dev extra).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from i2v.encoding import encode_mp4, probe_mp4

HERE = Path(__file__).parent
PHOTO = HERE.parent / "tests" / "data" / "hubble_deep_field.jpg"


def pan_frames(count: int, width: int, height: int) -> np.ndarray:
    """A real photo panning and zooming slowly: what a generated clip looks like to x264."""
    photo = Image.open(PHOTO).convert("RGB").resize((width * 5 // 4, height * 5 // 4))
    frames = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        t = i / (count - 1)
        left, top = t * width / 8, t * height / 16
        box = (left, top, left + width * (1.2 - 0.1 * t), top + height * (1.2 - 0.1 * t))
        frames[i] = np.asarray(photo.resize((width, height), Image.Resampling.BILINEAR, box=box))
    return frames


def psnr(path: Path, reference: np.ndarray) -> float:
    """Mean PSNR of the decoded video against the source frames."""
    errors = []
    with av.open(str(path)) as box:
        for index, frame in enumerate(box.decode(video=0)):
            decoded = frame.to_ndarray(format="rgb24").astype(np.float64)
            source = reference[index][: decoded.shape[0], : decoded.shape[1]].astype(np.float64)
            errors.append(np.mean((decoded - source) ** 2))
    mse = float(np.mean(errors))
    return 10 * math.log10(255**2 / mse) if mse > 0 else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=145)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args()

    from diffusers.utils import export_to_video

    frames = pan_frames(args.frames, args.width, args.height)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "i2v.mp4", Path(tmp) / "diffusers.mp4"
        start = time.perf_counter()
        encode_mp4(frames, args.fps, ours)
        ours_s = time.perf_counter() - start
        # Pipelines hand export_to_video float frames in [0, 1] (output_type="np"), so the
        # conversion to floats is not timed.
        floats = list(frames.astype(np.float32) / 255.0)
        start = time.perf_counter()
        export_to_video(floats, str(theirs), fps=args.fps)
        theirs_s = time.perf_counter() - start
        runs = (("i2v.encode_mp4", ours, ours_s), ("export_to_video", theirs, theirs_s))
        for name, path, seconds in runs:
            probe = probe_mp4(path)
            rows.append(
                {
                    "encoder": name,
                    "seconds": round(seconds, 3),
                    "bytes": probe.bytes,
                    "psnr_db": round(psnr(path, frames), 3),
                    "codec": probe.codec,
                    "pix_fmt": probe.pix_fmt,
                    "faststart": probe.moov_before_mdat,
                }
            )
    ratio = rows[0]["seconds"] / rows[1]["seconds"]
    result = {
        "frames": args.frames,
        "size": [args.width, args.height],
        "rows": rows,
        "time_ratio": round(ratio, 3),
        "goal": "time_ratio <= 0.5 and psnr >= export_to_video",
        "met": ratio <= 0.5 and rows[0]["psnr_db"] >= rows[1]["psnr_db"],
    }
    print(f"{'encoder':<18}{'seconds':>9}{'MB':>8}{'PSNR dB':>9}  faststart")
    for row in rows:
        print(
            f"{row['encoder']:<18}{row['seconds']:>9.2f}{row['bytes'] / 1e6:>8.2f}"
            f"{row['psnr_db']:>9.2f}  {row['faststart']}"
        )
    print(f"time ratio {ratio:.2f} (goal <= 0.5); goal met: {result['met']}")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "encode.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
