"""Every sentence a user can be shown about a failure, keyed by a stable code, in English and Russian.

The bot, the HTTP API, the web page and the CLI all read these, so one refusal
reads the same everywhere. Placeholders name their format: ``{size:mb}`` is a
file size, ``{limit:mp}`` a pixel count, ``{n:num}`` a number, each written the
way the reader's language writes it (see :mod:`i2v.messages.formats`).
"""

from __future__ import annotations

#: code -> language -> sentence. Every code has both languages (a test checks).
SENTENCES: dict[str, dict[str, str]] = {
    # --- a photo refused at the door (i2v.intake) -----------------------------------
    "empty_file": {
        "en": "The file is empty (0 bytes).",
        "ru": "Файл пустой (0 байт).",
    },
    "file_too_large": {
        "en": "The photo is {size:mb}; the limit is {limit:mb}.",
        "ru": "Фото весит {size:mb}, а можно не больше {limit:mb}.",
    },
    "not_an_image": {
        "en": "This file is not an image i2v can read. Try a JPEG or PNG.",
        "ru": "Этот файл не похож на изображение, которое можно прочитать. Попробуйте JPEG или PNG.",
    },
    "format_not_supported": {
        "en": "{format} images are not supported. Send a JPEG, PNG or WebP.",
        "ru": "Формат {format} не поддерживается. Пришлите JPEG, PNG или WebP.",
    },
    "too_many_pixels": {
        "en": "The photo is too large; the limit is {limit:mp}.",
        "ru": "Фото слишком большое: предел — {limit:mp}.",
    },
    "too_many_pixels_sized": {
        "en": "The photo is {width}×{height}, which is too large; the limit is {limit:mp}.",
        "ru": "Фото размером {width}×{height} слишком большое: предел — {limit:mp}.",
    },
    "photo_too_small": {
        "en": "The photo is {width}×{height}; each side must be at least {min_side} pixels.",
        "ru": "Фото размером {width}×{height}, а каждая сторона должна быть не меньше {min_side} пикс.",
    },
    "photo_damaged": {
        "en": "The image file is damaged or incomplete. Try sending it again.",
        "ru": "Файл изображения повреждён или дошёл не полностью. Попробуйте отправить его ещё раз.",
    },
    "photo_has_no_pixels": {
        "en": "The photo has no pixels ({width}×{height}).",
        "ru": "В фото нет ни одного пикселя ({width}×{height}).",
    },
    # --- options refused at the door (i2v.config.video) -------------------------------
    "prompt_too_long": {
        "en": "The prompt is {n:num} characters long; the limit is {limit:num}.",
        "ru": "Описание длиной {n:num} символов, а можно не больше {limit:num}.",
    },
    "duration_out_of_range": {
        "en": "The video length must be between {low:num} and {high:num} seconds (got {value:dec}).",
        "ru": "Длина видео должна быть от {low:num} до {high:num} с (указано {value:dec}).",
    },
    "size_needs_both_sides": {
        "en": "Give both the width and the height, or neither.",
        "ru": "Укажите и ширину, и высоту, или ни то ни другое.",
    },
    "side_out_of_range": {
        "en": "Width and height must be between {low:num} and {high:num} pixels (got {value:num}).",
        "ru": "Ширина и высота должны быть от {low:num} до {high:num} пикс. (указано {value:num}).",
    },
    "fps_out_of_range": {
        "en": "Frames per second must be between 1 and {high:num} (got {value:num}).",
        "ru": "Частота кадров должна быть от 1 до {high:num} (указано {value:num}).",
    },
    "steps_out_of_range": {
        "en": "Steps must be between 1 and {high:num} (got {value:num}).",
        "ru": "Число шагов должно быть от 1 до {high:num} (указано {value:num}).",
    },
    "seed_out_of_range": {
        "en": "The seed must be a whole number from 0 to 2^63 − 1.",
        "ru": "Зерно должно быть целым числом от 0 до 2^63 − 1.",
    },
    "control_characters": {
        "en": "The {field} contains control characters.",
        "ru": "В поле {field} есть управляющие символы.",
    },
    "unknown_engine": {
        "en": "Unknown engine {engine}; choose auto, kenburns or diffusers.",
        "ru": "Неизвестный движок {engine}; выберите auto, kenburns или diffusers.",
    },
    "invalid_input": {
        "en": "This photo or these options cannot be used.",
        "ru": "Это фото или эти настройки использовать не получается.",
    },
    # --- why a job failed (i2v.errors.ErrorCode), followed by job.reference -----------
    "job.invalid_input": {
        "en": "This photo or its options could not be used. Try another photo.",
        "ru": "Это фото или его настройки использовать не получилось. Попробуйте другое фото.",
    },
    "job.model_load_failed": {
        "en": "The video model could not be loaded; it was reported.",
        "ru": "Не удалось загрузить модель для видео; об этом уже сообщено.",
    },
    "job.out_of_memory": {
        "en": "The graphics card ran out of memory. Try a lower resolution or a shorter video.",
        "ru": "Видеокарте не хватило памяти. Попробуйте меньшее разрешение или более короткое видео.",
    },
    "job.stalled": {
        "en": "Making the video stopped moving and did not recover after {attempts:num} tries.",
        "ru": "Создание видео остановилось и не возобновилось после попыток: {attempts:num}.",
    },
    "job.timeout": {
        "en": "Making the video took far longer than it should, in {attempts:num} tries.",
        "ru": "Создание видео заняло гораздо больше времени, чем должно, попыток: {attempts:num}.",
    },
    "job.worker_lost": {
        "en": "The machine making the video stopped responding, {attempts:num} times.",
        "ru": "Компьютер, который делал видео, перестал отвечать, раз: {attempts:num}.",
    },
    "job.expired": {
        "en": "No machine was free to start this video in time. Please send it again.",
        "ru": "Ни один компьютер не успел взяться за это видео вовремя. Пришлите его ещё раз.",
    },
    "job.encode_failed": {
        "en": "The frames were made but could not be written into a video; it was reported.",
        "ru": "Кадры готовы, но собрать из них видео не получилось; об этом уже сообщено.",
    },
    "job.internal": {
        "en": "Something went wrong while making this video; it was reported.",
        "ru": "Что-то пошло не так при создании этого видео; об этом уже сообщено.",
    },
    "job.reference": {
        "en": "(code {code}, job {job})",
        "ru": "(код {code}, задача {job})",
    },
    # --- HTTP API problems (i2v.api.problems): a title, and a detail when none is specific
    "problem.invalid_input": {
        "en": "The request has an unusable photo or option",
        "ru": "В запросе непригодное фото или параметр",
    },
    "problem.invalid_fields": {
        "en": "These fields are not valid: {fields}.",
        "ru": "Эти поля заполнены неверно: {fields}.",
    },
    "problem.internal": {
        "en": "Something went wrong inside the server; it was reported.",
        "ru": "Что-то пошло не так на сервере; об этом уже сообщено.",
    },
    "problem.unauthorized": {
        "en": "A valid API token is required.",
        "ru": "Нужен действующий токен доступа.",
    },
    "problem.not_found": {
        "en": "There is nothing at this address.",
        "ru": "По этому адресу ничего нет.",
    },
    "problem.job_not_found": {
        "en": "No such job.",
        "ru": "Такой задачи нет.",
    },
    "problem.media_not_found": {
        "en": "The job has no such file (yet, or any more).",
        "ru": "У задачи нет такого файла (ещё нет или уже нет).",
    },
    "problem.method_not_allowed": {
        "en": "This address does not accept that method.",
        "ru": "Этот адрес не принимает такой метод запроса.",
    },
    "problem.payload_too_large": {
        "en": "The request body is too large.",
        "ru": "Запрос слишком большой.",
    },
    "problem.range_not_satisfiable": {
        "en": "The requested byte range is outside the file.",
        "ru": "Запрошенный диапазон байтов выходит за пределы файла.",
    },
    "problem.rate_limited": {
        "en": "Too many requests; wait a moment and try again.",
        "ru": "Слишком много запросов; подождите немного и попробуйте снова.",
    },
    "problem.bad_request": {
        "en": "The request could not be read.",
        "ru": "Запрос не удалось прочитать.",
    },
    "problem.forbidden": {
        "en": "This request is not allowed.",
        "ru": "Этот запрос не разрешён.",
    },
    "problem.job_finished": {
        "en": "The job has already finished.",
        "ru": "Задача уже завершена.",
    },
    "problem.idempotency_key_reused": {
        "en": "This Idempotency-Key was already used for another request.",
        "ru": "Этот ключ идемпотентности уже использован для другого запроса.",
    },
    "problem.too_many_streams": {
        "en": "Too many live event streams are open; close one and try again.",
        "ru": "Открыто слишком много потоков событий; закройте один и попробуйте снова.",
    },
    "problem.store_unavailable": {
        "en": "The job database cannot be reached; try again in a minute.",
        "ru": "База задач сейчас недоступна; попробуйте через минуту.",
    },
}
