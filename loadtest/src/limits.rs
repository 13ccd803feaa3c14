//! Every bound of the tool in one place, with units last. A load tool without limits is a way to
//! take a shared 2-core machine down; each loop, queue and table here has a named upper bound.

/// Highest latency the histograms can hold; slower answers are clamped to it (and still counted),
/// because a request that took longer than two minutes is a failure whatever its exact time.
pub const LATENCY_US_MAX: u64 = 120_000_000;

/// Significant figures of the run-wide histograms: 0.1% value resolution.
pub const HISTOGRAM_SIGFIGS: u8 = 3;

/// Significant figures of the per-second histograms: 1% resolution is plenty for a plot, and
/// keeps a long run's series small.
pub const SERIES_HISTOGRAM_SIGFIGS: u8 = 2;

/// Longest run the driver accepts. Also bounds the per-second series.
pub const DURATION_S_MAX: u64 = 3_600;

/// Most scheduled operations (buyers, journeys) one run may start, whatever rate and duration say.
pub const OPERATIONS_MAX: u64 = 50_000_000;

/// Most points of the per-second series (one per progress tick).
pub const SERIES_POINTS_MAX: usize = DURATION_S_MAX as usize + 120;

/// Largest opening burst of the flash sale.
pub const BURST_MAX: u64 = 1_000_000;

/// Default and largest bound on requests in flight at once in the open model.
pub const MAX_IN_FLIGHT_DEFAULT: usize = 1_024;
pub const MAX_IN_FLIGHT_MAX: usize = 65_536;

/// Largest closed-model worker count.
pub const CONCURRENCY_MAX: usize = 4_096;

/// Most SKUs a checkout-mix catalog may have.
pub const SKUS_MAX: usize = 100_000;

/// Idle keep-alive connections the client keeps per host; matched to the largest useful
/// concurrency so a closed run never reconnects between requests.
pub const POOL_IDLE_PER_HOST_MAX: usize = 4_096;

/// Client-side timeout of one HTTP request. Longer than the server's own ask timeout (10 s) so
/// the server's 503 arrives before the client gives up.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Tally entries kept for verification (one per acknowledged or attempted checkout).
pub const TALLY_ENTRIES_MAX: usize = 5_000_000;

/// Most idempotency keys replayed after a run (each is one request).
pub const REPLAY_SAMPLE_MAX: usize = 10_000;

/// Most acknowledged orders re-read through the API after a run (the store check covers all).
pub const API_ORDER_CHECKS_MAX: usize = 2_000;

/// Most problem lines one verification check prints; the count is always exact.
pub const CHECK_EXAMPLES_MAX: usize = 5;

/// Setup requests (products, restocks) in flight at once.
pub const SETUP_CONCURRENCY_MAX: usize = 32;

/// How long a child server may take to answer /readyz.
pub const SERVER_START_TIMEOUT_MS: u64 = 60_000;

/// How long a child server may take to stop after SIGTERM before it is killed.
pub const SERVER_STOP_TIMEOUT_MS: u64 = 20_000;

/// Most carts the memory measurement creates.
pub const MEMORY_CARTS_MAX: u64 = 2_000_000;

/// Most carts the cold-activation measurement reads back.
pub const COLD_CARTS_MAX: u64 = 100_000;

/// Most orders one store-ceiling transaction writes (about 1,500 rows per 100 orders).
pub const STORE_CEILING_BATCH_MAX: usize = 10_000;

/// Most writer connections of the store ceiling.
pub const STORE_CEILING_WRITERS_MAX: usize = 64;
