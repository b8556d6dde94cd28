//! Loading settings: defaults, files, environment variables and secrets.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_point_at_mainnet_and_have_no_keys() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(settings.network.seeds.len(), 3);
    assert!(!settings.network.allow_insecure_seeds);
    assert!(settings.api.admin_key.is_none());
    assert!(settings.security.master_key.is_none());
    assert_eq!(settings.webhooks.max_in_flight, 4);
}

#[test]
fn environment_overrides_and_splits_seed_lists() {
    let settings = Settings::load_from(
        None,
        env(&[
            ("SESSION_GATEWAY__API__ADMIN_KEY", "k3y"),
            ("SESSION_GATEWAY__NETWORK__SEEDS", "http://a:1/,http://b:2/"),
            ("SESSION_GATEWAY__WEBHOOKS__TIMEOUT_MS", "250"),
            ("SESSION_GATEWAY__NETWORK__ALLOW_INSECURE_SEEDS", "true"),
        ]),
    )
    .unwrap();
    assert!(settings.network.allow_insecure_seeds);
    assert_eq!(settings.api.admin_key.unwrap().expose(), "k3y");
    assert_eq!(settings.network.seeds, vec!["http://a:1/", "http://b:2/"]);
    assert_eq!(settings.webhooks.timeout_ms, 250);
}

#[test]
fn file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        "[api]\nadmin_key = \"from-file\"\n[database]\nurl = \"sqlite://x.db\"\n",
    )
    .unwrap();
    let settings = Settings::load_from(
        Some(&path),
        env(&[("SESSION_GATEWAY__API__ADMIN_KEY", "from-env")]),
    )
    .unwrap();
    assert_eq!(
        settings.api.admin_key.as_ref().unwrap().expose(),
        "from-env"
    );
    assert_eq!(settings.database_url(Path::new("d")), "sqlite://x.db");
}

#[test]
fn unknown_keys_are_rejected() {
    let result = Settings::load_from(None, env(&[("SESSION_GATEWAY__API__ADMIN_KYE", "x")]));
    assert!(result.is_err());
}

#[test]
fn telemetry_and_log_format_from_the_environment() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert!(settings.telemetry.otlp_endpoint.is_none());
    assert_eq!(settings.logging.resolve(false), LogFormat::Json);
    assert_eq!(settings.logging.resolve(true), LogFormat::Text);
    let settings = Settings::load_from(
        None,
        env(&[
            ("SESSION_GATEWAY__TELEMETRY__OTLP_ENDPOINT", "http://c:4318"),
            ("SESSION_GATEWAY__LOGGING__FORMAT", "text"),
        ]),
    )
    .unwrap();
    assert_eq!(
        settings.telemetry.otlp_endpoint.as_deref(),
        Some("http://c:4318")
    );
    assert_eq!(settings.logging.resolve(false), LogFormat::Text);
    let bad = Settings::load_from(None, env(&[("SESSION_GATEWAY__LOGGING__FORMAT", "xml")]));
    assert!(bad.is_err());
}

#[test]
fn secrets_do_not_debug_print() {
    let secret = SecretString::new("hunter2".into());
    assert!(!format!("{secret:?}").contains("hunter2"));
}

#[test]
fn rate_limits_are_off_by_default_and_load_from_the_environment() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(settings.api.rate_limit_per_sec, 0);
    assert_eq!(settings.api.rate_limit_burst, 0);
    assert_eq!(settings.sending.max_per_minute, 0);
    assert_eq!(settings.api.sse_heartbeat_ms, 15_000);
    let settings = Settings::load_from(
        None,
        env(&[
            ("SESSION_GATEWAY__API__RATE_LIMIT_PER_SEC", "20"),
            ("SESSION_GATEWAY__API__RATE_LIMIT_BURST", "40"),
            ("SESSION_GATEWAY__API__SSE_HEARTBEAT_MS", "500"),
            ("SESSION_GATEWAY__SENDING__MAX_PER_MINUTE", "30"),
        ]),
    )
    .unwrap();
    assert_eq!(settings.api.rate_limit_per_sec, 20);
    assert_eq!(settings.api.rate_limit_burst, 40);
    assert_eq!(settings.api.sse_heartbeat_ms, 500);
    assert_eq!(settings.sending.max_per_minute, 30);
}

#[test]
fn path_isolation_and_batching_come_from_the_environment() {
    let defaults = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(
        defaults.network.path_isolation,
        PathIsolationSetting::Shared
    );
    assert_eq!(defaults.network.batch_window_ms, 100);
    assert_eq!(defaults.network.store_window_ms, 25);
    assert_eq!(defaults.network.path_max_age_ms, 600_000);
    let settings = Settings::load_from(
        None,
        env(&[
            ("SESSION_GATEWAY__NETWORK__PATH_ISOLATION", "per_account"),
            ("SESSION_GATEWAY__NETWORK__BATCH_WINDOW_MS", "0"),
            ("SESSION_GATEWAY__NETWORK__STORE_WINDOW_MS", "0"),
            ("SESSION_GATEWAY__NETWORK__PATH_MAX_AGE_MS", "60000"),
        ]),
    )
    .unwrap();
    assert_eq!(
        settings.network.path_isolation,
        PathIsolationSetting::PerAccount
    );
    assert_eq!(settings.network.batch_window_ms, 0);
    assert_eq!(settings.network.store_window_ms, 0);
    assert_eq!(settings.network.path_max_age_ms, 60_000);
    let bad = env(&[("SESSION_GATEWAY__NETWORK__PATH_ISOLATION", "per_node")]);
    assert!(Settings::load_from(None, bad).is_err());
}

#[test]
fn retention_bounds_the_database_by_default_and_zero_keeps_forever() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    let r = &settings.retention;
    assert_eq!(
        (
            r.events_days,
            r.deliveries_days,
            r.messages_days,
            r.attachment_bytes_days
        ),
        (7, 7, 30, 14)
    );
    assert_eq!(r.interval_ms, 60_000);
    assert_eq!(
        RetentionSettings::days(7),
        Some(std::time::Duration::from_secs(7 * 86_400))
    );
    let settings = Settings::load_from(
        None,
        env(&[
            ("SESSION_GATEWAY__RETENTION__MESSAGES_DAYS", "0"),
            ("SESSION_GATEWAY__RETENTION__INTERVAL_MS", "500"),
        ]),
    )
    .unwrap();
    assert_eq!(
        RetentionSettings::days(settings.retention.messages_days),
        None
    );
    assert_eq!(settings.retention.interval_ms, 500);
    let bad = Settings::load_from(
        None,
        env(&[("SESSION_GATEWAY__RETENTION__EVENT_DAYS", "1")]),
    );
    assert!(bad.is_err(), "a misspelt retention key is an error");
}

#[test]
fn leases_are_long_on_sqlite_and_short_on_a_shared_database_unless_set() {
    use std::time::Duration;
    let settings = Settings::load_from(None, env(&[])).unwrap();
    let sqlite = settings.replicas.lease_config(true);
    let shared = settings.replicas.lease_config(false);
    assert_eq!(sqlite.ttl, Duration::from_secs(60));
    assert_eq!(shared.ttl, Duration::from_secs(10));
    assert_eq!(sqlite.renew_interval, Duration::from_secs(20));
    let set = Settings::load_from(
        None,
        env(&[("SESSION_GATEWAY__REPLICAS__LEASE_TTL_MS", "4500")]),
    )
    .unwrap();
    for one_replica in [true, false] {
        let config = set.replicas.lease_config(one_replica);
        assert_eq!(
            config.ttl,
            Duration::from_millis(4_500),
            "a set value is kept"
        );
        assert_eq!(config.renew_interval, Duration::from_millis(1_500));
    }
}
