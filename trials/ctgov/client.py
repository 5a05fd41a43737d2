"""Fetching one study over HTTP (standard library only): timeouts, retries with backoff, 429 and Retry-After,
a rate limiter under the API's ~50 requests per minute per IP.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from django.conf import settings

from trials.ctgov import CtgovError
from trials.ctgov.reading import normalize_nct_id, study_nct_id, study_shape_error
from trials.ctgov.validation import MAX_DOCUMENT_BYTES, parse_json


def api_url() -> str:
    """The API's base URL: the CTGOV_API_URL setting, whose default is in config/settings.py (tests point it at
    a local server)."""
    return settings.CTGOV_API_URL.rstrip("/")


class FetchError(CtgovError):
    """A fetch that failed. `kind`: not_found, rate_limited, server, timeout, unreachable or bad_response."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class RateLimiter:
    """A token bucket: bursts of `burst` requests, then `per_minute` a minute (so never more than
    burst + per_minute in any minute). Thread-safe; the clock and sleep are injectable for tests."""

    def __init__(
        self,
        per_minute: float = 40,
        burst: int = 5,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> None:
        """Wait for a slot. Raises FetchError when the wait would pass `deadline` (a clock time)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            wait = max((1 - self._tokens) * self.interval, self._blocked_until - now, 0.0)
            if deadline is not None and now + wait > deadline:
                raise FetchError(
                    f"the rate limit (under the API's ~50 requests a minute) asks to wait {wait:.0f} s; "
                    "try again later.",
                    "rate_limited",
                )
            if wait > 0:
                self.sleep(wait)
                now = self.clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
                self._updated = now
            self._tokens = max(self._tokens - 1, 0.0)

    def block_for(self, seconds: float) -> None:
        """The server asked us to wait (429): no request leaves before then."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)


# One limiter per process: the admin and the commands share it.
LIMITER = RateLimiter()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(tz=when.tzinfo)
    return max((when - now).total_seconds(), 0.0)


class CtgovClient:
    """Fetches study records from the ClinicalTrials.gov API v2.

    `timeout`: seconds for connecting and for each read; `retries`: further attempts after a 429, a 5xx
    answer or a timeout, waiting `backoff` × 2^attempt seconds (or what Retry-After asks, up to
    `max_wait`); `deadline`: seconds one fetch may take in all, waits included (None: no limit).
    A 404 or another 4xx fails at once; so does a server that cannot be reached at all (no retry can
    help within seconds, and a page must not hang on it).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 2.0,
        max_wait: float = 120.0,
        deadline: float | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        opener: Callable[..., Any] = urlopen,
    ) -> None:
        self.base_url = (base_url or api_url()).rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.deadline = deadline
        self.limiter = limiter or LIMITER
        self.clock = clock
        self.sleep = sleep
        self.opener = opener

    @classmethod
    def for_web_request(cls, **kwargs: Any) -> "CtgovClient":
        """A client for an admin page: short timeouts, one retry, never more than a few seconds."""
        return cls(**{"timeout": 3.0, "retries": 1, "backoff": 1.0, "max_wait": 3.0, "deadline": 6.0, **kwargs})

    def study_url(self, nct_id: str) -> str:
        return f"{self.base_url}/studies/{quote(nct_id)}?format=json"

    def fetch_study(self, nct_id: str, *, until: float | None = None) -> dict[str, Any]:
        """The study record (a dict) of one NCT number. Raises CtgovError / FetchError with a clear message.

        `until`: a time on the client's clock by which to give up, whatever is left of its own deadline (a
        page that fetches several records shares one deadline between them).
        """
        nct_id = normalize_nct_id(nct_id)
        url = self.study_url(nct_id)
        request = Request(url, headers={"Accept": "application/json", "User-Agent": user_agent()})
        deadline = self.clock() + self.deadline if self.deadline is not None else None
        if until is not None:
            deadline = until if deadline is None else min(deadline, until)
        problem, wait = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                wait = min(wait, self.max_wait)
                if deadline is not None and self.clock() + wait >= deadline:
                    break
                self.sleep(wait)
            try:
                self.limiter.acquire(deadline)
            except FetchError as error:
                raise FetchError(f"{nct_id}: {error}", error.kind) from None
            timeout = self.timeout if deadline is None else max(min(self.timeout, deadline - self.clock()), 0.1)
            try:
                with self.opener(request, timeout=timeout) as response:
                    body = self._read(response, deadline)
            except HTTPError as error:
                error.close()
                if error.code == 404:
                    raise FetchError(
                        f"{nct_id}: no such study on ClinicalTrials.gov (HTTP 404).", "not_found"
                    ) from None
                if error.code == 429:
                    asked = retry_after_seconds(error.headers.get("Retry-After"))
                    wait = asked if asked is not None else self.backoff * 2**attempt
                    self.limiter.block_for(min(wait, self.max_wait))
                    problem = "too many requests (HTTP 429)" + (f", asked to wait {asked:.0f} s" if asked else "")
                    if asked is not None and asked > self.max_wait:
                        break
                    continue
                if error.code >= 500:
                    wait = self.backoff * 2**attempt
                    problem = f"ClinicalTrials.gov answered HTTP {error.code} (a server error)"
                    continue
                raise FetchError(f"{nct_id}: ClinicalTrials.gov answered HTTP {error.code}.", "bad_response") from None
            except (TimeoutError, URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                    wait = self.backoff * 2**attempt
                    problem = f"no answer within {timeout:.1f} s (timeout)"
                    continue
                raise FetchError(
                    f"{nct_id}: cannot reach ClinicalTrials.gov at {self.base_url} ({reason}). "
                    "This server may have no internet access: upload the study's JSON file instead.",
                    "unreachable",
                ) from None
            return self._parse(nct_id, body)
        kind = "rate_limited" if "429" in problem else "timeout" if "timeout" in problem else "server"
        raise FetchError(f"{nct_id}: {problem}; gave up after {attempt + 1} attempt(s).", kind)

    def _read(self, response: Any, deadline: float | None) -> bytes:
        """The answer's body, read a piece at a time: at most MAX_BODY + 1 bytes, and never past `deadline` (a
        server sending its answer a byte at a time holds the client no longer than that)."""
        pieces: list[bytes] = []
        size = 0
        while size <= MAX_BODY:
            if deadline is not None and self.clock() > deadline:
                raise TimeoutError("the answer did not arrive in time")
            piece = response.read(min(65_536, MAX_BODY + 1 - size))
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces)

    def _parse(self, nct_id: str, body: bytes) -> dict[str, Any]:
        if len(body) > MAX_BODY:
            raise FetchError(f"{nct_id}: the answer is larger than {MAX_BODY // 1_000_000} MB.", "bad_response")
        try:
            study = parse_json(body, "answer")
        except CtgovError as error:
            detail = str(error).removeprefix("answer: ")
            message = f"{nct_id}: ClinicalTrials.gov's answer is not JSON it can read: {detail}"
            raise FetchError(message, "bad_response") from None
        if problem := study_shape_error(study):
            raise FetchError(f"{nct_id}: {problem}", "bad_response")
        if study_nct_id(study).upper() != nct_id:
            raise FetchError(f"{nct_id}: the answer is the record of {study_nct_id(study)!r}.", "bad_response")
        return study


MAX_BODY = MAX_DOCUMENT_BYTES  # the largest document the import reads


def user_agent() -> str:
    return f"stem-cell-diabetes-registry (+{getattr(settings, 'SITE_URL', '')})"
