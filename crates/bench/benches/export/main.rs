//! `cargo bench -p bench --bench export`: the production changes report
//! over 1,000,000 events, as CSV and as JSON, against the same run's
//! baseline of merely reading those rows through the `AuditReader` port.
//!
//! The question: can an auditor export a large range at ≥ 1M events/s in
//! < 64 MiB of memory? The rows are made on demand in `scan` from their
//! `seq` (nothing holds a million events), so the time and memory measured
//! are the report's, not the fixture's; what making a row costs is in the
//! baseline too, and the ratio report / baseline is what the report adds.

#![allow(clippy::expect_used, clippy::print_stdout)]

use async_trait::async_trait;
use audit::AuditReader;
use audit::query::{CHUNK, ChainKey, Filter, Head, StoredEvent, for_each};
use audit::{Actor, AuditEvent, Effect, Outcome, RunResult};
use compliance::{Format, Range, production_changes};
use futures::StreamExt;
use kernel::{AuditEventId, StoreError, TenantId, UserId};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Events in the chain.
const EVENTS: i64 = 1_000_000;
/// Timed passes of each measurement; the median is reported.
const PASSES: usize = 3;

const TENANT: TenantId = TenantId::from_uuid(Uuid::from_u128(0x7e));

/// A tenant's chain of `EVENTS` production changes, made when read.
struct Synthetic {
    chain: ChainKey,
    start: OffsetDateTime,
    template: AuditEvent,
    users: Vec<(UserId, String)>,
    devices: Vec<Uuid>,
    tools: Vec<String>,
    reasons: Vec<String>,
}

impl Synthetic {
    fn new() -> Self {
        let start = datetime!(2026-01-01 00:00:00 UTC);
        let template = AuditEvent {
            id: AuditEventId::from_uuid(Uuid::nil()),
            at: start,
            tenant_id: Some(TENANT),
            user_id: None,
            user_email: None,
            actor: Actor::User,
            operation: "mcp:update_dns_servers".into(),
            tool_name: None,
            action: "tool:advanced".into(),
            resource_type: "device".into(),
            resource_id: None,
            device_id: None,
            environment: Some("prod".into()),
            effect: Effect::Write,
            decision: Outcome::Allow,
            reason: String::new(),
            result: RunResult::Success,
            error_class: None,
            approval_request_id: None,
            request_id: "0196f3a2-7c1e-7d3a-9b2f-5e8c1a4d6f70".into(),
            client_addr: Some("192.0.2.10".into()),
            args_digest: Some(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            ),
            intent_id: None,
            client_request_id: None,
            count: 1,
        };
        Synthetic {
            chain: ChainKey::of(Some(TENANT)),
            start,
            template,
            users: (0..50u128)
                .map(|n| {
                    (
                        UserId::from_uuid(Uuid::from_u128(0x1000 + n)),
                        format!("operator{n}@example.test"),
                    )
                })
                .collect(),
            devices: (0..500u128).map(|n| Uuid::from_u128(0x2000 + n)).collect(),
            tools: [
                "update_dns_servers",
                "set_identity",
                "add_firewall_rule",
                "set_ntp_servers",
                "add_address",
                "set_interface_comment",
                "reboot",
                "apply_plan",
            ]
            .map(String::from)
            .to_vec(),
            // One reason in ten needs quoting in CSV.
            reasons: (0..10)
                .map(|n| match n {
                    0 => "granted by ops_rw at team \"core\", site 7".to_owned(),
                    _ => format!("granted by ops_rw at team {n}"),
                })
                .collect(),
        }
    }

    /// The row numbered `seq`.
    fn row(&self, seq: i64) -> StoredEvent {
        let n = seq as usize;
        let mut event = self.template.clone();
        event.id = AuditEventId::from_uuid(Uuid::from_u64_pair(0x0196_f3a2, seq as u64));
        event.at = self.start + Duration::from_millis(seq as u64);
        let (user, email) = &self.users[n % self.users.len()];
        event.user_id = Some(*user);
        event.user_email = Some(email.clone());
        let device = self.devices[n % self.devices.len()];
        event.device_id = Some(device);
        event.resource_id = Some(device);
        event.tool_name = Some(self.tools[n % self.tools.len()].clone());
        event.reason.push_str(&self.reasons[n % self.reasons.len()]);
        if n.is_multiple_of(20) {
            event.result = RunResult::Failure;
            event.error_class = Some("device_unreachable".into());
        }
        StoredEvent {
            seq,
            event,
            version: audit::chain::VERSION,
            key_id: Some("0000000000000000".into()),
            // Fake, constant hashes: the report copies them, it does not
            // check them.
            prev_hash: [0xa5; 32],
            hash: [0x5a; 32],
        }
    }
}

#[async_trait]
impl AuditReader for Synthetic {
    async fn page(
        &self,
        _chain: ChainKey,
        _filter: &Filter,
        _before: Option<i64>,
        _limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(Vec::new())
    }

    async fn scan(
        &self,
        chain: ChainKey,
        after: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if chain != self.chain {
            return Ok(Vec::new());
        }
        let last = until.min(EVENTS).min(after + i64::from(limit));
        Ok((after + 1..=last).map(|seq| self.row(seq)).collect())
    }

    async fn hash_at(&self, chain: ChainKey, seq: i64) -> Result<Option<[u8; 32]>, StoreError> {
        Ok((chain == self.chain && (1..=EVENTS).contains(&seq)).then_some([0x5a; 32]))
    }

    async fn seq_range(
        &self,
        chain: ChainKey,
        _from: Option<OffsetDateTime>,
        _to: Option<OffsetDateTime>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        Ok((chain == self.chain).then_some((1, EVENTS)))
    }

    async fn head(&self, chain: ChainKey) -> Result<Option<Head>, StoreError> {
        Ok((chain == self.chain).then_some(Head {
            seq: EVENTS,
            hash: [0x5a; 32],
        }))
    }

    async fn is_concluded(&self, _: ChainKey, _: AuditEventId) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn open_intents(
        &self,
        _: Option<ChainKey>,
        _: OffsetDateTime,
        _: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(Vec::new())
    }
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident set to the current one, so each measurement
/// reports its own peak; false where the kernel does not allow it.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One measurement: the median time of its passes, what it produced, and
/// the peak resident set while it ran.
struct Measured {
    time: Duration,
    output: u64,
    peak_kib: u64,
}

fn measure(pass: impl Fn() -> u64) -> Measured {
    reset_peak_rss();
    let mut output = 0;
    let mut times: Vec<Duration> = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            output = black_box(pass());
            start.elapsed()
        })
        .collect();
    times.sort();
    Measured {
        time: times[PASSES / 2],
        output,
        peak_kib: peak_rss_kib(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let reader: Arc<Synthetic> = Arc::new(Synthetic::new());
    let peak_reset = reset_peak_rss();
    println!(
        "export: {EVENTS} production changes, chunks of {CHUNK} rows, median of {PASSES} passes; \
         resident at start {} KiB{}",
        peak_rss_kib(),
        if peak_reset {
            ""
        } else {
            " (peak RSS could not be reset between measurements)"
        }
    );

    let baseline = measure(|| {
        rt.block_on(async {
            let mut rows = 0u64;
            for_each(reader.as_ref(), reader.chain, 1, EVENTS, |row| {
                rows += 1;
                black_box(row);
                true
            })
            .await
            .expect("scan");
            rows
        })
    });
    assert_eq!(baseline.output, EVENTS as u64);

    let rt = &rt;
    let report = |format: Format| {
        let reader = reader.clone();
        measure(move || {
            let reader = reader.clone();
            rt.block_on(async move {
                let report = production_changes(reader, TENANT, Range::default(), format)
                    .await
                    .expect("report");
                let mut body = report.body;
                let mut bytes = 0u64;
                while let Some(chunk) = body.next().await {
                    bytes += chunk.expect("chunk").len() as u64;
                }
                bytes
            })
        })
    };
    let csv = report(Format::Csv);
    let json = report(Format::Json);

    let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!();
    println!("| run | time | events/s | ratio to baseline | output | peak RSS |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| baseline: read rows only | {:.0} ms | {:.2} M | 1.00× | — | {:.1} MiB |",
        baseline.time.as_secs_f64() * 1e3,
        rate(baseline.time) / 1e6,
        baseline.peak_kib as f64 / 1024.0
    );
    for (name, m) in [
        ("production_changes CSV", &csv),
        ("production_changes JSON", &json),
    ] {
        println!(
            "| {name} | {:.0} ms | {:.2} M | {:.2}× | {:.0} MiB | {:.1} MiB |",
            m.time.as_secs_f64() * 1e3,
            rate(m.time) / 1e6,
            m.time.as_secs_f64() / baseline.time.as_secs_f64(),
            m.output as f64 / (1024.0 * 1024.0),
            m.peak_kib as f64 / 1024.0
        );
    }
    let met = rate(csv.time) >= 1e6 && csv.peak_kib < 64 * 1024;
    println!(
        "\ngoal (CSV ≥ 1M events/s, peak RSS < 64 MiB): {}",
        if met { "met" } else { "NOT met" }
    );
}
