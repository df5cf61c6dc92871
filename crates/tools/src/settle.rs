//! Settling an intent nobody concluded: the `audit::ReadBack`
//! port over stored devices. It finds the device and its credentials,
//! checks that the intent in the chain vouches for the change kept beside
//! it, and asks the device whether that change is in place
//! ([`crate::readback`]).

use crate::Runner;
use crate::readback::IntendedWrite;
use crate::target::device_target;
use audit::intents::Finding;

/// Reads devices back for intents nobody concluded.
#[derive(Debug)]
pub struct DeviceReadBack<'a> {
    pub tenancy: &'a tenancy::TenancyService,
    pub tools: &'a Runner,
}

#[async_trait::async_trait]
impl audit::ReadBack for DeviceReadBack<'_> {
    async fn read_back(
        &self,
        intent: &audit::AuditEvent,
        change: &audit::intents::IntendedChange,
    ) -> Finding {
        let Some(intended) = IntendedWrite::from_json(&change.change) else {
            return Finding::Unreadable("the kept change no longer reads".into());
        };
        if !vouches_for(intent, &intended) {
            return Finding::Unreadable("the kept change is not the one its intent records".into());
        }
        let id = kernel::DeviceId::from_uuid(change.device_id);
        let device = match self.tenancy.device(id).await {
            Ok(d) if Some(d.tenant_id) == change.tenant_id => d,
            Ok(_) | Err(tenancy::TenancyError::NotFound(_)) => {
                return Finding::Unreadable("the device is no longer in rosgate".into());
            }
            Err(e) => return Finding::Unavailable(format!("the device cannot be looked up: {e}")),
        };
        let credentials = match self.tenancy.credentials(id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Finding::Unavailable("the device has no stored credentials".into()),
            Err(_) => {
                return Finding::Unavailable("the device's credentials cannot be read".into());
            }
        };
        self.tools
            .read_back(&device_target(&device, credentials), &intended)
            .await
    }
}

/// Whether the chained `intent` vouches for `intended`, which was kept
/// outside the chain: the same tool and argument digest, or the same plan.
fn vouches_for(intent: &audit::AuditEvent, intended: &IntendedWrite) -> bool {
    match intended {
        IntendedWrite::Tool { tool, input } => {
            intent.tool_name.as_deref() == Some(tool.as_str())
                && intent.args_digest.as_deref() == Some(audit::args_digest(input).as_str())
        }
        IntendedWrite::Plan { plan_id, .. } => intent.approval_request_id == Some(*plan_id),
    }
}
