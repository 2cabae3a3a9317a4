"""The web page in a real headless Chromium: upload a photo, watch the bar move, play the video.

Chromium comes from Debian's package (Playwright cannot download its own here);
CI sets I2V_REQUIRE_BROWSER=1 so a missing browser fails instead of skipping.
The screenshot of the finished page is kept under out/test-artifacts (or
$I2V_TEST_ARTIFACTS) and its path printed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_support import live_server
from i2v.api import create_app
from i2v.config import Settings
from i2v.jobs import JobStatus
from i2v.store import JobStore, open_store_url
from worker_harness import fast_settings, worker_thread

DATA = Path(__file__).parent / "data"
ARTIFACTS = Path(
    os.environ.get("I2V_TEST_ARTIFACTS", Path(__file__).parent.parent / "out" / "test-artifacts")
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIDEO_SECONDS = 5.0


def chromium_path() -> str:
    """The system Chromium, or skip (fail in CI) with the reason."""
    path = os.environ.get("I2V_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed (pip install playwright)"
    if problem is None and not Path(path).exists():
        problem = f"no Chromium at {path} (apt-get install chromium)"
    if problem is not None:
        if os.environ.get("I2V_REQUIRE_BROWSER"):
            pytest.fail(f"the browser test is required here: {problem}")
        pytest.skip(problem)
    return path


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    opened = open_store_url(sqlite_url)
    yield opened
    opened.close()


def test_a_person_uploads_a_photo_watches_progress_and_plays_the_video(
    store: JobStore, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    worker_settings = fast_settings(
        tmp_path / "worker",
        factory="i2v.engine.factory:build_engine",
        engine="kenburns",
        # A real encode on a busy machine may pause for seconds; stalls are not tested here.
        stall_timeout_seconds=30.0,
    )
    with (
        live_server(create_app(store, settings)) as base_url,
        worker_thread(store, worker_settings, max_jobs=1),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-US")
            page.goto(base_url + "/")
            page.set_input_files("#photo", str(DATA / "coffee.png"))
            page.fill("#prompt", "steam rising from the cup")
            page.select_option("#resolution", "480p")
            page.fill("#duration", str(VIDEO_SECONDS))
            page.click("#submit")

            seen = watch_progress(page, timeout=60, store=store)
            page.wait_for_selector("#video:not([hidden])", timeout=30_000)
            duration = page.evaluate(
                """async () => {
                    const v = document.getElementById('video');
                    if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
                    return v.duration;
                }"""
            )
            played = page.evaluate(
                """async () => {
                    const v = document.getElementById('video');
                    v.muted = true;
                    await v.play();
                    await new Promise(r => setTimeout(r, 700));
                    return v.currentTime;
                }"""
            )
            status = page.text_content("#status")
            download = page.get_attribute("#download", "href")
            page.wait_for_selector("#jobs img.thumb[src]", timeout=10_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "web-finished.png"
            page.screenshot(path=str(shot), full_page=True)
            page.click("[data-lang=ru]")
            status_ru = page.text_content("#status")
            button_ru = page.text_content("#submit")
        finally:
            browser.close()
    with capsys.disabled():
        print(f"\nscreenshot of the finished page: {shot}")

    assert [job.status for job in store.list_jobs()] == [JobStatus.SUCCEEDED]
    moving = [value for value in seen if 0 < value < 1]
    assert len(set(moving)) >= 3, seen
    assert seen == sorted(seen)
    assert duration == pytest.approx(VIDEO_SECONDS, abs=0.1)
    assert played > 0.2
    assert status == "Done"
    assert (status_ru, button_ru) == ("Готово", "Сделать видео")
    assert download is not None and download.endswith("/video?download=1")


def watch_progress(page: object, timeout: float, store: JobStore) -> list[float]:
    """Read the progress bar until the job ends; return every value it showed, in order."""
    values: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value, status = page.evaluate(  # type: ignore[attr-defined]
            "[document.getElementById('progress').value, "
            "document.getElementById('status').dataset.status || '']"
        )
        if not values or values[-1] != value:
            values.append(float(value))
        if status in ("succeeded", "failed", "canceled"):
            return values
        time.sleep(0.05)
    jobs = [(j.id, j.status.value, j.stage, j.progress) for j in store.list_jobs()]
    raise AssertionError(
        f"the page never showed the job finishing; progress seen: {values}; the store: {jobs}"
    )


TOKEN = "a-token-long-enough-for-any-rule-0123456789"


def test_a_russian_phone_with_a_token_streams_the_video_and_a_failure_offers_to_try_again(
    store: JobStore, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    from i2v.errors import ErrorCode
    from test_messages import latin_phrases

    worker_settings = fast_settings(
        tmp_path / "worker",
        factory="i2v.engine.factory:build_engine",
        engine="kenburns",
        # A real encode on a busy machine may pause for seconds; stalls are not tested here.
        stall_timeout_seconds=30.0,
    )
    long_name = tmp_path / ("a-very-long-holiday-photo-name-" * 5 + ".png")
    long_name.write_bytes((DATA / "coffee.png").read_bytes())
    not_a_photo = tmp_path / "notes.png"
    not_a_photo.write_bytes(b"these are my notes, not a photo")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (
        live_server(
            create_app(store, Settings(data_dir=settings.data_dir, api_token=TOKEN))
        ) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            # The page's CSP forbids eval, which Playwright's polling wait_for_function uses.
            page = browser.new_page(
                viewport={"width": 390, "height": 844}, locale="ru-RU", bypass_csp=True
            )
            page.add_init_script(f"localStorage.setItem('i2v.token', '{TOKEN}')")
            page.goto(url + "/")
            # A file that is not a photo: the server's refusal, in the page's language.
            page.set_input_files("#photo", str(not_a_photo))
            page.click("#submit")
            page.wait_for_selector("#form-error:not([hidden])", timeout=10_000)
            refusal = page.text_content("#form-error") or ""
            page.set_input_files("#photo", str(long_name))
            page.select_option("#resolution", "480p")
            page.fill("#duration", "2")
            with worker_thread(store, worker_settings, max_jobs=1):
                page.click("#submit")
                # The card scrolls into view once the upload is checked and queued: on a
                # busy machine that alone can take longer than 10 s, so the wait is generous.
                page.wait_for_function(
                    "document.getElementById('job').getBoundingClientRect().top < innerHeight / 2",
                    timeout=60_000,
                )
                page.wait_for_selector("#video:not([hidden])", timeout=60_000)
            src = page.get_attribute("#video", "src") or ""
            played = page.evaluate(
                """async () => {
                    const v = document.getElementById('video');
                    v.muted = true;
                    await v.play();
                    await new Promise(r => setTimeout(r, 700));
                    return v.currentTime;
                }"""
            )
            page.wait_for_selector("#jobs img.thumb[src]", timeout=10_000)
            overflow = page.evaluate(
                """() => [...document.querySelectorAll('#jobs li, #drop span')].some(
                    (el) => el.getBoundingClientRect().right > document.documentElement.clientWidth
                )"""
            )
            phone_done = ARTIFACTS / "web-phone-ru-done.png"
            page.screenshot(path=str(phone_done), full_page=True)

            # The next job fails inside the worker; the page says so in Russian.
            page.click("#submit")
            queued = wait_until(lambda: _queued(store), timeout=15)
            lease = store.claim("test-worker")
            assert lease is not None and lease.job.id == queued
            store.fail(
                queued,
                lease.token,
                ErrorCode.INTERNAL,
                "Something went wrong while making this video; it was reported.",
                detail="ValueError: box offset can't be negative",
            )
            page.wait_for_selector("#retry:not([hidden])", timeout=15_000)
            page.wait_for_function(
                "[...document.querySelectorAll('#jobs .state')]"
                ".some((e) => e.textContent === 'Не получилось')",
                timeout=10_000,
            )
            error_text = page.text_content("#job-error") or ""
            retry_text = page.text_content("#retry")
            phone_failed = ARTIFACTS / "web-phone-ru-failed.png"
            page.screenshot(path=str(phone_failed), full_page=True)
            page.click("#retry")
            wait_until(lambda: len(store.list_jobs()) == 3 or None, timeout=15)

            desktop = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            desktop.add_init_script(f"localStorage.setItem('i2v.token', '{TOKEN}')")
            desktop.goto(url + "/")
            desktop.wait_for_selector("#jobs img.thumb[src]", timeout=10_000)
            desktop.evaluate("document.getElementById('token-box').hidden = false")
            save, row = desktop.evaluate(
                """() => [document.getElementById('token-save').getBoundingClientRect().width,
                          document.querySelector('#token-box .row').getBoundingClientRect().width]"""
            )
            desktop_shot = ARTIFACTS / "web-desktop-en.png"
            desktop.screenshot(path=str(desktop_shot), full_page=True)
        finally:
            browser.close()
    with capsys.disabled():
        print(f"\nscreenshots: {phone_done}, {phone_failed}, {desktop_shot}")

    assert refusal.startswith("Этот файл не похож на изображение")
    assert latin_phrases(refusal) == []
    assert "signature=" in src and "expires=" in src
    assert played > 0.2
    assert not overflow
    assert error_text == (
        "Что-то пошло не так при создании этого видео; об этом уже сообщено. "
        f"(код internal, задача {queued})"
    )
    assert latin_phrases(error_text) == []
    assert retry_text == "Попробовать ещё раз"
    assert save < row / 4


def _queued(store: JobStore) -> str | None:
    queued = [job.id for job in store.list_jobs() if job.status is JobStatus.QUEUED]
    return queued[0] if queued else None


def wait_until(check: object, timeout: float) -> object:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition never held")
