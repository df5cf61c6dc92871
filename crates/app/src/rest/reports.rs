//! Compliance reports over REST: production changes, denials and top users
//! of the caller's tenant, as JSON or CSV downloads.
//!
//! The `compliance` crate builds each report as a byte stream in constant
//! memory; this module only picks the range, checks `compliance:read` over the whole tenant through
//! the gate, and hands the stream to the client as it comes. Every reply
//! names the chain head the report was built up to in `X-Audit-Chain-Head`
//! (the JSON body names it too), so an auditor can later ask
//! `GET /audit/verify` over the same range and compare: equal heads mean
//! the rows behind the report are still the rows stored.
//!
//! Ranges are always closed: a missing `to` is now and a missing `from` is
//! 30 days before `to`, so every report states the exact range it covers
//! and can be reproduced and verified.

use super::audit::{bad_query, check_order, instant, representable, truncate_to_micros};
use super::failure;
use super::{ApiResult, Gate, Tag};
use crate::state::AppState;
use audit::AuditReader;
use compliance::{Format, Range, Report, StoreError};
use futures::StreamExt;
use futures::stream::BoxStream;
use poem::http::StatusCode;
use poem::http::header::CONTENT_DISPOSITION;
use poem::{Body, IntoResponse, Response};
use poem_openapi::param::Query;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Enum, OpenApi};
use rbac::Permission as P;
use rbac::Resource;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The response header naming the chain head of the report's range.
pub const CHAIN_HEAD_HEADER: &str = "X-Audit-Chain-Head";

/// How far back a report reaches when the caller names no `from`.
const DEFAULT_SPAN: Duration = Duration::days(30);

/// Users in the top users report when the caller names no `limit`.
const DEFAULT_TOP_USERS: u32 = 10;

pub struct ReportsApi {
    pub state: AppState,
}

/// The format of a report.
#[derive(Debug, Clone, Copy, Default, Enum, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ReportFormat {
    /// One JSON document.
    #[default]
    Json,
    /// RFC 4180 CSV with a header line.
    Csv,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Json => Format::Json,
            ReportFormat::Csv => Format::Csv,
        }
    }
}

/// A report on its way to the client: its body streams as the `compliance`
/// crate produces it.
pub struct ReportFile {
    /// The report's name in file names and logs (`production-changes`).
    name: &'static str,
    format: Format,
    range: (OffsetDateTime, OffsetDateTime),
    chain_head: String,
    body: BoxStream<'static, Result<Vec<u8>, StoreError>>,
}

impl std::fmt::Debug for ReportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFile")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("chain_head", &self.chain_head)
            .finish_non_exhaustive()
    }
}

impl ReportFile {
    fn new(
        name: &'static str,
        range: (OffsetDateTime, OffsetDateTime),
        format: Format,
        report: Report,
    ) -> Self {
        ReportFile {
            name,
            format,
            range,
            chain_head: report.chain_head,
            body: report.body,
        }
    }

    /// The suggested file name: the report and the dates it covers.
    fn filename(&self) -> String {
        format!(
            "{}_{}_{}.{}",
            self.name,
            self.range.0.date(),
            self.range.1.date(),
            self.format.extension()
        )
    }
}

impl IntoResponse for ReportFile {
    fn into_response(self) -> Response {
        let name = self.name;
        let mut resp = Response::builder()
            .status(StatusCode::OK)
            .content_type(self.format.content_type())
            .header(CHAIN_HEAD_HEADER, self.chain_head.as_str());
        if self.format == Format::Csv {
            resp = resp.header(
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", self.filename()),
            );
        }
        // The status line has gone by the time a storage error can happen:
        // log it and fail the body, so that the transfer is cut short
        // rather than ended cleanly and a partial file is not taken for a
        // whole report.
        let body = self.body.map(move |chunk| {
            chunk.map_err(|e| {
                tracing::error!(report = name, error = %e, "report body cut short by a storage error");
                std::io::Error::other(e)
            })
        });
        resp.body(Body::from_bytes_stream(body))
    }
}

impl ApiResponse for ReportFile {
    fn meta() -> MetaResponses {
        let string = || <String as Type>::schema_ref();
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The report, streamed: one JSON document (`format=json`) or CSV \
                              with a header line (`format=csv`).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: Format::Json.content_type(),
                        schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
                            description: Some(
                                "`report`, `tenant_id`, `from`, `to`, `chain_head`, then the \
                                 report's own fields (see the operation).",
                            ),
                            ..MetaSchema::new("object")
                        })),
                    },
                    MetaMediaType {
                        content_type: Format::Csv.content_type(),
                        schema: string(),
                    },
                ],
                headers: vec![
                    MetaHeader {
                        name: CHAIN_HEAD_HEADER.to_owned(),
                        description: Some(
                            "The hash (hex) of the last event in the range, or of the chain's \
                             genesis when the range holds none. `GET /audit/verify` over the \
                             same range reports the same `head` while the rows are untouched."
                                .to_owned(),
                        ),
                        required: true,
                        deprecated: false,
                        schema: string(),
                    },
                    MetaHeader {
                        name: "Content-Disposition".to_owned(),
                        description: Some(
                            "CSV only: `attachment` with a file name naming the report and \
                             its dates."
                                .to_owned(),
                        ),
                        required: false,
                        deprecated: false,
                        schema: string(),
                    },
                ],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// The report range of a closed range.
fn closed((from, to): (OffsetDateTime, OffsetDateTime)) -> Range {
    Range {
        from: Some(from),
        to: Some(to),
    }
}

/// What every report request settles before the report is built.
struct ReportRequest {
    tenant: kernel::TenantId,
    range: (OffsetDateTime, OffsetDateTime),
    format: Format,
}

impl ReportsApi {
    /// Checks `compliance:read` over the caller's whole tenant, then the
    /// range and the format.
    async fn admit(
        &self,
        gate: Gate,
        (from, to): (Option<OffsetDateTime>, Option<OffsetDateTime>),
        format: ReportFormat,
    ) -> Result<ReportRequest, crate::http::problem::ApiError> {
        gate.authorize(P::ComplianceRead, Resource::Tenant(gate.tenant()))
            .await?;
        Ok(ReportRequest {
            tenant: gate.tenant(),
            range: self.range(from, to)?,
            format: Format::from(format),
        })
    }

    /// The reader every report scans the tenant's chain through.
    fn reader(&self) -> Arc<dyn AuditReader> {
        Arc::new(self.state.db.clone())
    }

    /// The closed range a report covers: `to` defaults to now, `from` to
    /// [`DEFAULT_SPAN`] before `to`.
    fn range(
        &self,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<(OffsetDateTime, OffsetDateTime), crate::http::problem::ApiError> {
        let to = match instant(to, "to")? {
            Some(t) => t,
            None => truncate_to_micros(self.state.clock.now()),
        };
        let from = match instant(from, "from")? {
            Some(f) => f,
            None => to
                .checked_sub(DEFAULT_SPAN)
                .filter(representable)
                .ok_or_else(|| {
                    bad_query(
                        crate::http::codes::Code::InvalidRange,
                        "to",
                        "to: too early to reach 30 days back; name `from`".to_owned(),
                    )
                })?,
        };
        check_order(Some(from), Some(to))?;
        Ok((from, to))
    }
}

#[OpenApi(tag = "Tag::Compliance")]
impl ReportsApi {
    /// Every allowed write on a production device in `[from, to)`, oldest
    /// first. Needs `compliance:read` over the tenant. `to` defaults to
    /// now and `from` to 30 days before `to` (RFC 3339); the body states
    /// the range used.
    ///
    /// JSON: `{"report":"production_changes","tenant_id","from","to",
    /// "chain_head","events":[…],"summary":{"total","succeeded","failed",
    /// "by_user":[…],"by_device":[…],"by_tool":[…]}}`. CSV: one row per
    /// event. The body streams as the trail is read; a transfer cut short
    /// is not a report.
    #[oai(
        path = "/compliance/reports/production-changes",
        method = "get",
        operation_id = "productionChangesReport"
    )]
    async fn production_changes(
        &self,
        gate: Gate,
        /// Events at or after this instant; 30 days before `to` by default.
        from: Query<Option<OffsetDateTime>>,
        /// Events before this instant; now by default.
        to: Query<Option<OffsetDateTime>>,
        #[oai(default)] format: Query<ReportFormat>,
    ) -> ApiResult<ReportFile, failure::Query> {
        let r = self.admit(gate, (from.0, to.0), format.0).await?;
        let report =
            compliance::production_changes(self.reader(), r.tenant, closed(r.range), r.format)
                .await?;
        Ok(ReportFile::new(
            "production-changes",
            r.range,
            r.format,
            report,
        ))
    }

    /// Refused requests in `[from, to)`, counted by user and reason, most
    /// frequent first. Needs `compliance:read` over the tenant. `to`
    /// defaults to now and `from` to 30 days before `to` (RFC 3339); the
    /// body states the range used.
    ///
    /// JSON: `{"report":"denials","tenant_id","from","to","chain_head",
    /// "rows":[{"user_id","user_email","reason","count"}],"total"}`. CSV:
    /// `user_id,user_email,reason,count`.
    #[oai(
        path = "/compliance/reports/denials",
        method = "get",
        operation_id = "denialsReport"
    )]
    async fn denials(
        &self,
        gate: Gate,
        /// Events at or after this instant; 30 days before `to` by default.
        from: Query<Option<OffsetDateTime>>,
        /// Events before this instant; now by default.
        to: Query<Option<OffsetDateTime>>,
        #[oai(default)] format: Query<ReportFormat>,
    ) -> ApiResult<ReportFile, failure::Query> {
        let r = self.admit(gate, (from.0, to.0), format.0).await?;
        let report =
            compliance::denials(self.reader(), r.tenant, closed(r.range), r.format).await?;
        Ok(ReportFile::new("denials", r.range, r.format, report))
    }

    /// The users who made the most changes (allowed writes) in
    /// `[from, to)`, most first, with how many of them failed. Needs
    /// `compliance:read` over the tenant. `to` defaults to now and `from`
    /// to 30 days before `to` (RFC 3339); the body states the range used.
    /// `limit` is 1 to 1000, 10 by default.
    ///
    /// JSON: `{"report":"top_users","tenant_id","from","to","chain_head",
    /// "limit","rows":[{"user_id","user_email","changes","failed"}]}`.
    /// CSV: `user_id,user_email,changes,failed`.
    #[oai(
        path = "/compliance/reports/top-users",
        method = "get",
        operation_id = "topUsersReport"
    )]
    async fn top_users(
        &self,
        gate: Gate,
        /// Events at or after this instant; 30 days before `to` by default.
        from: Query<Option<OffsetDateTime>>,
        /// Events before this instant; now by default.
        to: Query<Option<OffsetDateTime>>,
        #[oai(default)] format: Query<ReportFormat>,
        /// How many users to list.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<ReportFile, failure::Query> {
        let r = self.admit(gate, (from.0, to.0), format.0).await?;
        let limit = limit.0.unwrap_or(DEFAULT_TOP_USERS) as usize;
        let report =
            compliance::top_users(self.reader(), r.tenant, closed(r.range), limit, r.format)
                .await?;
        Ok(ReportFile::new("top-users", r.range, r.format, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(chunks: Vec<Result<Vec<u8>, StoreError>>, format: Format) -> ReportFile {
        let at = OffsetDateTime::UNIX_EPOCH;
        ReportFile::new(
            "denials",
            (at, at + Duration::days(30)),
            format,
            Report {
                chain_head: "ab".repeat(32),
                body: futures::stream::iter(chunks).boxed(),
            },
        )
    }

    #[tokio::test]
    async fn a_report_streams_with_its_head_and_csv_is_an_attachment() {
        let resp = file(
            vec![Ok(b"a,b\r\n".to_vec()), Ok(b"1,2\r\n".to_vec())],
            Format::Csv,
        )
        .into_response();
        assert_eq!(resp.status(), StatusCode::OK);
        let headers = resp.headers();
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(headers[CHAIN_HEAD_HEADER], "ab".repeat(32).as_str());
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"denials_1970-01-01_1970-01-31.csv\""
        );
        let body = resp.into_body().into_bytes().await;
        assert_eq!(body.ok().as_deref(), Some(&b"a,b\r\n1,2\r\n"[..]));
    }

    #[tokio::test]
    async fn a_storage_error_mid_body_fails_the_transfer() {
        let resp = file(
            vec![
                Ok(b"{\"report\":".to_vec()),
                Err(StoreError::Unavailable("gone".into())),
            ],
            Format::Json,
        )
        .into_response();
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(resp.headers().get("content-disposition").is_none());
        assert!(
            resp.into_body().into_bytes().await.is_err(),
            "a cut-short body must not read as complete"
        );
    }
}
