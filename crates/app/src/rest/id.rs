//! Typed path ids: `site_id: Path<Id<SiteId>>` parses the path segment
//! once, at the edge, into a `SiteId`, so a handler cannot pass it where a
//! `DeviceId` is wanted. In the document the parameter stays a string of
//! format `uuid`, and a malformed one is refused the way a malformed UUID
//! is (400, `bad_request`).

use kernel::{
    ApiTokenId, BindingId, DeviceGroupId, DeviceId, DeviceScopeId, DivisionId, GroupId,
    InvitationId, RoleId, SiteId, TeamId, TenantId, UserId,
};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};
use std::borrow::Cow;
use uuid::Uuid;

/// A kernel id type that can name a resource in a path.
pub trait KernelId: From<Uuid> + Copy + Send + Sync + 'static {}

macro_rules! kernel_ids {
    ($($id:ty),* $(,)?) => {
        $(impl KernelId for $id {})*
    };
}

kernel_ids!(
    TenantId,
    DivisionId,
    GroupId,
    TeamId,
    UserId,
    SiteId,
    DeviceId,
    DeviceGroupId,
    RoleId,
    BindingId,
    DeviceScopeId,
    InvitationId,
    ApiTokenId,
);

/// A path parameter holding the id of one kind of resource.
#[derive(Debug, Clone, Copy)]
pub struct Id<T>(T);

impl<T: KernelId> Id<T> {
    /// The typed id.
    pub fn get(self) -> T {
        self.0
    }
}

impl<T: KernelId> Type for Id<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        Uuid::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        Uuid::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: KernelId> ParseFromParameter for Id<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Uuid::parse_from_parameter(value)
            .map(|uuid| Id(T::from(uuid)))
            .map_err(|e| e.propagate())
    }
}
