"""P7: 100 users send a photo within one second; how fast does each get a first reply?

Runs the real bot (aiogram polling, notifier, pacing) against the local fake
Bot API server from the tests, with two real workers (supervisor on a thread,
spawned child, Ken Burns engine, default clocks) making tiny videos, and
reports first-reply latency (p50, p99), the peak of message calls and of edits
per second (sliding one-second window), the shortest gap between two edits of
one message, and whether every user got exactly one video.

    .venv/bin/python bench/bot_load.py [--users 100] [--rate 25]

Writes bench/results/bot_load.json.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The tests folder holds the fake Bot API server and the bot harness.
sys.path.insert(0, str(ROOT / "tests"))

from bot_harness import BotThread, bot_settings  # noqa: E402
from fake_bot_api import Call, FakeBotApi, FakeUser  # noqa: E402
from i2v.bot import BotOptions  # noqa: E402
from i2v.bot.pacing import PACED_METHODS  # noqa: E402
from i2v.config import Settings  # noqa: E402
from i2v.store import JobStore, open_store_url  # noqa: E402
from i2v.worker import Worker  # noqa: E402

PHOTO = ROOT / "tests" / "data" / "coffee.png"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def peak_per_second(times: list[float]) -> int:
    """The most events in any one-second window."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


@contextmanager
def worker_on_thread(store: JobStore, data_dir: Path) -> Iterator[Worker]:
    """A real Ken Burns worker with the default clocks, serving ``store`` until the exit."""
    worker = Worker(store, Settings(data_dir=data_dir, engine="kenburns"))
    thread = threading.Thread(target=worker.run, name="bench-worker")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop(immediately=True)
        thread.join(60)


def run(users: int, rate: float, spread: float, timeout: float) -> dict[str, object]:
    """Run the scenario and return the measurements."""
    photo = PHOTO.read_bytes()
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi() as api, ExitStack() as workers:
        url = f"sqlite:///{(Path(tmp) / 'i2v.db').as_posix()}"
        store = open_store_url(url)
        settings = bot_settings(api, url, Path(tmp), fps=4)
        for i in range(2):
            workers.enter_context(worker_on_thread(store, Path(tmp) / f"worker{i}"))
        bot = BotThread(store, settings, BotOptions(poll_seconds=0.25, messages_per_second=rate))
        bot.start()
        time.sleep(1.0)  # let polling settle, as a long-running bot would be
        people = [FakeUser(10_000 + i, "ru" if i % 2 else "en") for i in range(users)]
        sent_at: dict[int, float] = {}
        start = time.monotonic()
        for i, user in enumerate(people):
            delay = start + spread * i / users - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent_at[user.id] = time.monotonic()
            api.send_photo(user, photo)
        try:
            api.wait_for(lambda: len(api.uploads()) >= users, timeout=timeout, what="every video")
            time.sleep(5.0)  # let final edits land and any duplicate show itself
        finally:
            bot.stop()
            workers.close()
            store.close()
        result = measure(api, people, sent_at, start, rate)
        result["photos_sent_within_s"] = round(max(sent_at.values()) - start, 3)
        return result


def measure(
    api: FakeBotApi, people: list[FakeUser], sent_at: dict[int, float], start: float, rate: float
) -> dict[str, object]:
    """Turn the fake server's call log into the numbers of the report."""
    first_reply: dict[int, float] = {}
    for call in api.calls("sendMessage"):
        chat = call.chat_id
        if chat in sent_at and chat not in first_reply:
            first_reply[chat] = call.at - sent_at[chat]
    latencies = [first_reply[u.id] for u in people if u.id in first_reply]
    paced: list[Call] = [c for c in api.calls() if c.method in PACED_METHODS]
    edits = [c for c in paced if c.method == "editMessageText"]
    by_message: dict[tuple[int | None, object], list[float]] = defaultdict(list)
    for call in edits:
        by_message[(call.chat_id, call.params.get("message_id"))].append(call.at)
    gaps = [b - a for times in by_message.values() for a, b in itertools.pairwise(times)]
    videos = defaultdict(int)
    for upload in api.uploads():
        videos[upload.chat_id] += 1
    last_upload = max((c.at for c in api.calls("sendVideo")), default=start)
    return {
        "users": len(people),
        "rate_limit_per_second": rate,
        "replied": len(latencies),
        "first_reply_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "first_reply_p99_s": round(percentile(latencies, 99), 3) if latencies else None,
        "first_reply_max_s": round(max(latencies), 3) if latencies else None,
        "peak_message_calls_per_s": peak_per_second([c.at for c in paced]),
        "peak_edits_per_s": peak_per_second([c.at for c in edits]),
        "edits": len(edits),
        "min_gap_between_edits_of_one_message_s": round(min(gaps), 3) if gaps else None,
        "http_429": sum(1 for c in api.calls() if c.status == 429),
        "users_with_exactly_one_video": sum(1 for u in people if videos[u.id] == 1),
        "users_with_more_than_one_video": sum(1 for u in people if videos[u.id] > 1),
        "all_videos_after_s": round(last_upload - start, 1),
    }


def main() -> None:
    """Parse arguments, run, print a table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=BotOptions().messages_per_second)
    parser.add_argument(
        "--spread", type=float, default=1.0, help="seconds over which photos arrive"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bot_load.json")
    args = parser.parse_args()
    result = run(args.users, args.rate, args.spread, args.timeout)
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
