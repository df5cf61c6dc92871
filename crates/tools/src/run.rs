//! The [`Runner`]: runs a tool on a device by calling the implementation
//! its catalogue row names, and reads a device back for a change whose
//! outcome was never recorded. It holds the device port and the clock;
//! the tools themselves are in `ops/`.

use crate::args::Args;
use crate::call::DeviceCall;
use crate::catalogue::{Implementation, Tool};
use crate::device::DeviceTarget;
use crate::output::{ToolError, ToolOutput};
use crate::ports::RouterOs;
use crate::readback::{IntendedWrite, read_back};
use audit::intents::Finding;
use kernel::Clock;
use std::sync::Arc;
use tenancy::Device;

/// Runs tools against devices.
#[derive(Clone)]
pub struct Runner {
    api: Arc<dyn RouterOs>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}

impl Runner {
    pub fn new(api: Arc<dyn RouterOs>, clock: Arc<dyn Clock>) -> Self {
        Self { api, clock }
    }

    /// Whether `intended` is in place on the device (see [`crate::readback`]).
    pub async fn read_back(&self, t: &DeviceTarget, intended: &IntendedWrite) -> Finding {
        read_back(self.api.as_ref(), t, intended).await
    }

    /// Runs `tool` with checked `args` on `device`. Plan and apply tools
    /// work on several devices through `plan::Plans`, not here.
    pub async fn run(
        &self,
        tool: &Tool,
        device: &Device,
        t: &DeviceTarget,
        args: &Args,
    ) -> Result<ToolOutput, ToolError> {
        let call = DeviceCall {
            api: self.api.as_ref(),
            clock: self.clock.as_ref(),
            device,
            target: t,
            args,
        };
        match tool.implementation {
            Implementation::Read(run) | Implementation::Write { run, .. } => run(&call).await,
            Implementation::Plan(_) | Implementation::ApplyPlan => Err(ToolError::Refused(
                format!("tool {} is not available yet", tool.name),
            )),
        }
    }
}
