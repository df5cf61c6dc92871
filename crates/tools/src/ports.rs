//! The ports of the tools: every async trait this crate needs an adapter
//! for. The `routeros` crate implements [`RouterOs`] over the RouterOS v7
//! REST API; the `db` crate implements [`PlanStore`] over SQL.

use crate::device::{DeviceError, DeviceTarget, RestRequest};
use crate::plan::model::{DeviceOutcome, Plan, PlanStatus};
use async_trait::async_trait;
use kernel::StoreError;
use serde_json::Value;
use uuid::Uuid;

/// Sends REST calls to RouterOS devices.
#[async_trait]
pub trait RouterOs: Send + Sync {
    async fn call(&self, target: &DeviceTarget, request: RestRequest)
    -> Result<Value, DeviceError>;
}

/// Where plans are kept.
#[async_trait]
pub trait PlanStore: Send + Sync {
    async fn insert_plan(&self, plan: &Plan) -> Result<(), StoreError>;
    async fn plan(&self, id: Uuid) -> Result<Option<Plan>, StoreError>;
    /// Moves the plan from `from` to `to` if it is in `from`; `false` if it
    /// was not (someone else moved it first).
    async fn move_plan(
        &self,
        id: Uuid,
        from: PlanStatus,
        to: PlanStatus,
    ) -> Result<bool, StoreError>;
    /// Records the per-device outcomes and the final status.
    async fn finish_plan(
        &self,
        id: Uuid,
        status: PlanStatus,
        outcomes: &[DeviceOutcome],
    ) -> Result<(), StoreError>;
}
