//! Links between a user and identities at the identity provider, changed
//! only by an administrator who outranks the user.

use super::failure;
use super::id::Id;
use super::{ApiResult, Creation, Deletion, Gate, Tag};
use crate::http::codes::Code;
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::UserId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource, delegation};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on identity links.
pub struct IdentitiesApi {
    pub state: AppState,
}

/// An identity at the identity provider to link a user to.
#[derive(Debug, Object)]
pub struct NewIdentityLink {
    /// The provider's subject (`sub`) for the person.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub subject: String,
    /// The provider's issuer; the configured `oidc.issuer` when omitted.
    #[oai(skip_serializing_if_is_none, validator(max_length = 2048))]
    pub issuer: Option<String>,
}

/// A user's link to an identity at the identity provider.
#[derive(Debug, Object)]
pub struct IdentityLinkDto {
    pub user_id: Uuid,
    pub issuer: String,
    pub subject: String,
}

/// An identity linked to a user: whoever signs in as `subject` at `issuer`
/// is that user.
#[derive(Debug, Object)]
pub struct LinkedIdentityDto {
    pub issuer: String,
    pub subject: String,
    /// When the link was made (by an administrator, or at a first sign-in).
    pub linked_at: OffsetDateTime,
}

impl From<tenancy::IdentityLink> for LinkedIdentityDto {
    fn from(l: tenancy::IdentityLink) -> Self {
        LinkedIdentityDto {
            issuer: l.issuer,
            subject: l.subject,
            linked_at: l.linked_at,
        }
    }
}

/// The identities linked to a user, oldest link first.
#[derive(Debug, Object)]
pub struct LinkedIdentities {
    pub items: Vec<LinkedIdentityDto>,
}

/// `s` for an audit reason: quoted, escaped, at most 256 characters.
fn shown(s: &str) -> String {
    let short: String = s.chars().take(256).collect();
    format!("{short:?}")
}

impl IdentitiesApi {
    /// The user whose identity links `gate`'s caller may change: never its
    /// own, and an administrator's (`admin:*` anywhere, or a platform
    /// administrator) only as a platform administrator.
    async fn may_change_links(&self, gate: &Gate, id: UserId) -> Result<tenancy::User, ApiError> {
        let user = self.state.tenancy.user(id).await?;
        let index = self.state.authz.index(user.tenant_id).await?;
        delegation::identity_link_change(&index, &gate.who, id, user.platform_admin)?;
        Ok(user)
    }

    /// Records the outcome of a change to an identity link described by
    /// `what`: allowed (`what` and `done`) or, for a refusal, denied (`what`,
    /// `refused` and the problem's code).
    async fn audit_link_change<T>(
        gate: &Gate,
        at: Resource,
        what: &str,
        (done, refused): (&str, &str),
        outcome: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match outcome {
            Ok(v) => {
                gate.allowed_because(P::AdminAll, at, format!("{what} {done}"))
                    .await?;
                Ok(v)
            }
            Err(e) if e.problem().status < 500 => {
                let reason = format!("{what} {refused}: {}", e.problem().code);
                Err(gate.refuse_because(P::AdminAll, at, reason, e).await)
            }
            Err(e) => Err(e),
        }
    }

    /// The issuer a link names (the configured provider's when none is
    /// given) and the link as an audit reason describes it.
    fn named_link(&self, issuer: Option<String>, subject: &str) -> (String, String) {
        let issuer = issuer
            .or_else(|| self.state.idp.as_ref().map(|i| i.issuer().to_owned()))
            .unwrap_or_default();
        let what = format!(
            "identity link of subject {} at issuer {}",
            shown(subject),
            shown(&issuer)
        );
        (issuer, what)
    }

    /// The checks of [`IdentitiesApi::link_identity`] after authorization,
    /// then the link itself.
    async fn link_checked(
        &self,
        gate: &Gate,
        id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<tenancy::User, ApiError> {
        let user = self.may_change_links(gate, id).await?;
        match &self.state.idp {
            Some(idp) if issuer != idp.issuer() => {
                return Err(ApiError::invalid_code(
                    Code::IssuerMismatch,
                    "issuer",
                    format!("must be the configured provider's issuer, {}", idp.issuer()),
                ));
            }
            Some(_) => {}
            None if issuer.is_empty() => {
                return Err(ApiError::invalid(
                    "issuer",
                    "no identity provider is configured here; name the issuer",
                ));
            }
            // Links made before a provider is configured: the issuer as named.
            None => {}
        }
        // One identity per user and provider; a link at a provider moved
        // from signs nobody in and does not stand in the way.
        self.state
            .tenancy
            .link_sole_identity(&user, issuer, subject)
            .await?;
        Ok(user)
    }

    /// The checks of [`IdentitiesApi::unlink_identity`] after authorization,
    /// then the removal itself.
    async fn unlink_checked(
        &self,
        gate: &Gate,
        id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<(), ApiError> {
        let user = self.may_change_links(gate, id).await?;
        self.state
            .tenancy
            .unlink_identity(&user, issuer, subject)
            .await
            .map_err(|e| match e {
                tenancy::TenancyError::NotFound(_) => ApiError::new(
                    Code::IdentityNotFound,
                    "this user is not linked to that identity",
                ),
                other => other.into(),
            })
    }
}

#[OpenApi(tag = "Tag::Directory")]
impl IdentitiesApi {
    /// Link a user to an identity at the identity provider (its issuer and
    /// `sub`): whoever logs in there as that identity is this user from
    /// then on. Platform administrators and holders of `admin:*` are never
    /// linked by email at login, only this way (or with `rosgate user
    /// link-identity`). Needs `admin:*` over the user; a user who holds
    /// `admin:*` anywhere, or is a platform administrator, is linked only by
    /// a platform administrator. Nobody links themselves, a user linked to
    /// an identity already is not linked to another one
    /// (`identity_already_linked`), and the issuer must be the configured
    /// provider's. Every refusal is audited as a denial naming the issuer
    /// and subject.
    #[oai(
        path = "/users/:user_id/identities",
        method = "post",
        operation_id = "linkUserIdentity"
    )]
    async fn link_identity(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        body: Json<NewIdentityLink>,
    ) -> ApiResult<Creation<IdentityLinkDto>, failure::Create> {
        let id = user_id.0.get();
        let at = Resource::User(id);
        gate.authorize(P::AdminAll, at).await?;
        let subject = body.0.subject.trim().to_owned();
        let (issuer, what) = self.named_link(body.0.issuer.clone(), &subject);
        let outcome = self.link_checked(&gate, id, &issuer, &subject).await;
        let user =
            Self::audit_link_change(&gate, at, &what, ("created", "refused"), outcome).await?;
        Ok(Creation::Created(Json(IdentityLinkDto {
            user_id: user.id.uuid(),
            issuer,
            subject,
        })))
    }

    /// List the identities linked to a user (issuer, subject, and when the
    /// link was made): each is a way to sign in as that user. Needs
    /// `user:read` over the user.
    #[oai(
        path = "/users/:user_id/identities",
        method = "get",
        operation_id = "listUserIdentities"
    )]
    async fn list_identities(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
    ) -> ApiResult<Json<LinkedIdentities>, failure::Read> {
        let id = user_id.0.get();
        gate.authorize(P::UserRead, Resource::User(id)).await?;
        let links = self.state.tenancy.identity_links(id).await?;
        Ok(Json(LinkedIdentities {
            items: links.into_iter().map(LinkedIdentityDto::from).collect(),
        }))
    }

    /// Remove a user's link to an identity, named exactly as listed by its
    /// `issuer` (the configured provider's when omitted) and `subject`:
    /// that identity no longer signs in as the user. Sessions it started
    /// before run on to their own end. Gated like linking: `admin:*` over
    /// the user; a user who holds `admin:*` anywhere, or is a platform
    /// administrator, only by a platform administrator; nobody removes
    /// their own link (`own_identity_link`). `identity_not_found` when the
    /// user has no such link. Every refusal is audited as a denial naming
    /// the issuer and subject.
    #[oai(
        path = "/users/:user_id/identities",
        method = "delete",
        operation_id = "unlinkUserIdentity"
    )]
    async fn unlink_identity(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        subject: Query<String>,
        issuer: Query<Option<String>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        let id = user_id.0.get();
        let at = Resource::User(id);
        gate.authorize(P::AdminAll, at).await?;
        let subject = subject.0;
        let (issuer, what) = self.named_link(issuer.0, &subject);
        let outcome = self.unlink_checked(&gate, id, &issuer, &subject).await;
        Self::audit_link_change(&gate, at, &what, ("removed", "removal refused"), outcome).await?;
        Ok(Deletion::Deleted)
    }
}
